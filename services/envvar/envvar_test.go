package envvar

import (
	"strings"
	"testing"
)

type cfg struct {
	S string
	N int
	B bool
}

var vars = []Var[cfg]{
	String("X_S", func(c *cfg) *string { return &c.S }),
	Int("X_N", func(c *cfg) *int { return &c.N }),
	Bool("X_B", func(c *cfg) *bool { return &c.B }),
}

func TestLoad(t *testing.T) {
	env := map[string]string{"X_S": " hello ", "X_N": "42", "X_B": "true"}
	var c cfg
	if err := Load(&c, vars, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if c != (cfg{S: "hello", N: 42, B: true}) {
		t.Fatalf("loaded %+v", c)
	}
	for name, bad := range map[string]string{"X_N": "many", "X_B": "maybe"} {
		err := Load(&c, vars, func(k string) (string, bool) { return bad, k == name })
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: %v", name, bad, err)
		}
	}
	if got := strings.Join(Names(vars), ","); got != "X_S,X_N,X_B" {
		t.Fatalf("names %s", got)
	}
}
