package dpagent

import (
	"runtime/debug"

	"github.com/jetmesh/jetmesh/xds/bootstrap"
)

// Version is jetmesh-dp's version, set at build time with
// -ldflags "-X github.com/jetmesh/jetmesh/services/dpagent.Version=v0.1.0".
var Version = "dev"

// KumaDPVersion is the kuma-dp release whose protocol the agent speaks; it is announced as
// version.kumaDp.version so a Kuma control plane's version checks accept the proxy.
const KumaDPVersion = "2.14.3"

// BuildVersion is what the agent announces about itself in the bootstrap request.
func BuildVersion() bootstrap.KumaDpVersion {
	v := bootstrap.KumaDpVersion{Version: KumaDPVersion, GitTag: "jetmesh-dp/" + Version}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				v.GitCommit = s.Value
			case "vcs.time":
				v.BuildDate = s.Value
			}
		}
	}
	return v
}
