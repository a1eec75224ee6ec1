package resources

// Labels Kuma computes on the server; users cannot set them to other values.
const (
	LabelOrigin        = "kuma.io/origin"
	LabelZone          = "kuma.io/zone"
	LabelEnv           = "kuma.io/env"
	LabelMesh          = "kuma.io/mesh"
	LabelDisplayName   = "kuma.io/display-name"
	LabelProxyType     = "kuma.io/proxy-type"
	LabelKubeNamespace = "k8s.kuma.io/namespace"
	LabelPolicyRole    = "kuma.io/policy-role"
)

// Modes of a control plane, named as KUMA_MODE names them.
const (
	ModeGlobal = "global"
	ModeZone   = "zone"
)

// Env describes the control plane that creates a resource: what the computed labels say.
type Env struct {
	Mode        string // ModeGlobal or ModeZone (a standalone CP is a zone without a global)
	Zone        string // this CP's zone name; unused on global
	Environment string // "universal" or "kubernetes"
}
