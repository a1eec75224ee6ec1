package k8stest_test

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/jetmesh/jetmesh/services/k8s/k8stest"
)

// outcomeTB records how Start ends a test instead of ending the real one.
type outcomeTB struct {
	testing.TB
	fatal, skip string
}

func (o *outcomeTB) Fatal(args ...any) { o.fatal = fmt.Sprint(args...); runtime.Goexit() }
func (o *outcomeTB) Skip(args ...any)  { o.skip = fmt.Sprint(args...); runtime.Goexit() }

// TestMissingBinaries holds Start to its contract with CI: without the binaries a developer's
// run skips, but CI's fails, so a broken build step cannot pass as green.
func TestMissingBinaries(t *testing.T) {
	t.Setenv("JETMESH_K8S_BIN_DIR", t.TempDir())
	for _, ci := range []string{"", "true"} {
		t.Setenv("CI", ci)
		o := &outcomeTB{TB: t}
		done := make(chan struct{})
		go func() {
			defer close(done)
			k8stest.Start(o, k8stest.Options{})
		}()
		<-done
		got, other := o.skip, o.fatal
		if ci == "true" {
			got, other = o.fatal, o.skip
		}
		if !strings.Contains(got, "deploy/k8stools/build.sh") || other != "" {
			t.Errorf("CI=%q: skip = %q, fatal = %q; want only the %s, naming build.sh",
				ci, o.skip, o.fatal, map[string]string{"": "skip", "true": "fatal"}[ci])
		}
	}
}
