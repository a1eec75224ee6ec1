package dpagent

import (
	"flag"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestRender(t *testing.T) {
	for _, tc := range []struct {
		name, tmpl string
		vars       map[string]string
		want       string
		err        string
	}{
		{name: "no tags", tmpl: "type: Dataplane\n", want: "type: Dataplane\n"},
		{name: "spaces inside tags", tmpl: "name: {{ name }}/{{name}}", vars: map[string]string{"name": "dp-1"}, want: "name: dp-1/dp-1"},
		{name: "html escaped like mustache", tmpl: "{{ v }}", vars: map[string]string{"v": `a&b<c>"d'`}, want: "a&amp;b&lt;c&gt;&#34;d&#39;"},
		{name: "triple mustache is raw", tmpl: "{{{ v }}}", vars: map[string]string{"v": "a&b"}, want: "a&b"},
		{name: "ampersand is raw", tmpl: "{{& v }}", vars: map[string]string{"v": "a&b"}, want: "a&b"},
		{name: "dotted name", tmpl: "{{ a.b }}", vars: map[string]string{"a.b": "x"}, want: "x"},
		{name: "comment", tmpl: "a{{! note }}b", want: "ab"},
		{name: "section set", tmpl: "{{#tp}}\nredirect: true\n{{/tp}}", vars: map[string]string{"tp": ""}, want: "redirect: true\n"},
		{name: "section unset skips missing vars", tmpl: "{{#tp}}\n{{ port }}\n{{/tp}}x", want: "x"},
		{name: "inverted section", tmpl: "{{^tp}}\nplain\n{{/tp}}", want: "plain\n"},
		{name: "missing variable", tmpl: "name: {{ name }}\naddress: {{ address }}", vars: map[string]string{"address": "1.2.3.4"},
			err: `dataplane template: no value for variable "name"; pass --dataplane-var name=VALUE`},
		{name: "several missing", tmpl: "{{ name }} {{ address }} {{ name }}",
			err: `no value for variables "name", "address"`},
		{name: "unclosed tag", tmpl: "a\nname: {{ name", err: "line 2: unclosed tag"},
		{name: "unclosed section", tmpl: "{{#a}}x", vars: map[string]string{"a": "1"}, err: `section "a" is never closed`},
		{name: "stray end", tmpl: "{{/a}}", err: "unexpected {{/a}}"},
		{name: "partial", tmpl: "{{> other }}", err: "partials and delimiter changes are not supported"},
		{name: "empty tag", tmpl: "{{ }}", err: "empty tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render(tc.tmpl, tc.vars)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// The example of Kuma's "Data plane on Universal" page (direct lifecycle).
const seedTemplate = `type: Dataplane
mesh: default
name: {{ name }}
networking:
  address: {{ address }}
  inbound:
  - port: 8000
    servicePort: 80
    tags:
      kuma.io/service: backend
      kuma.io/protocol: http
`

func TestRenderSeedExample(t *testing.T) {
	var vars varsValue
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.Var(&vars, "dataplane-var", "")
	if err := fs.Parse([]string{"--dataplane-var", "name=my-backend-dp", "--dataplane-var=address=192.168.0.2"}); err != nil {
		t.Fatal(err)
	}
	got, err := Render(seedTemplate, vars)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("{{ name }}", "my-backend-dp", "{{ address }}", "192.168.0.2").Replace(seedTemplate)
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Error(diff)
	}
	r, err := parseResource(got, "dataplane")
	if err != nil {
		t.Fatal(err)
	}
	if r.Mesh != "default" || r.Name != "my-backend-dp" || !strings.Contains(string(r.JSON), `"address":"192.168.0.2"`) {
		t.Errorf("resource %+v %s", r, r.JSON)
	}
}

func TestVarsValue(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want map[string]string
		bad  bool
	}{
		{args: []string{"a=1"}, want: map[string]string{"a": "1"}},
		{args: []string{"a=1", "b=2"}, want: map[string]string{"a": "1", "b": "2"}},
		{args: []string{"a=1,b=2"}, want: map[string]string{"a": "1", "b": "2"}},
		{args: []string{"tags=x,y"}, want: map[string]string{"tags": "x,y"}},
		{args: []string{`"a=1"`}, want: map[string]string{"a": "1"}},
		{args: []string{"a=1", "a=2"}, want: map[string]string{"a": "2"}},
		{args: []string{"nothing"}, bad: true},
		{args: []string{"=x"}, bad: true},
	} {
		v := varsValue{}
		var err error
		for _, a := range tc.args {
			if err = v.Set(a); err != nil {
				break
			}
		}
		if tc.bad != (err != nil) || (!tc.bad && !cmp.Equal(map[string]string(v), tc.want)) {
			t.Errorf("%q: got %v, %v", tc.args, v, err)
		}
	}
}
