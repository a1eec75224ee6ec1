package bootstrap

import (
	"fmt"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"sigs.k8s.io/yaml"
)

// Marshal renders a bootstrap as YAML the way Kuma does (proto JSON names, then YAML): the
// bytes of Response.Bootstrap and of the file Envoy reads.
func Marshal(b *bootstrapv3.Bootstrap) ([]byte, error) {
	j, err := protojson.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: marshal: %w", err)
	}
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: marshal: %w", err)
	}
	return y, nil
}

// Unmarshal parses a YAML (or JSON) bootstrap. Typed configs must be of types this package
// knows (those Generate emits); unknown fields are an error.
func Unmarshal(data []byte) (*bootstrapv3.Bootstrap, error) {
	j, err := yaml.YAMLToJSON(data)
	if err != nil {
		return nil, fmt.Errorf("bootstrap: parse: %w", err)
	}
	b := &bootstrapv3.Bootstrap{}
	if err := protojson.Unmarshal(j, b); err != nil {
		return nil, fmt.Errorf("bootstrap: parse: %w", err)
	}
	return b, nil
}
