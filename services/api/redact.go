package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/jetmesh/jetmesh/events"
)

// secretTypes keep secret material in their "data" field.
var secretTypes = map[string]bool{"Secret": true, "GlobalSecret": true}

// redact returns ev with the material of a Secret or GlobalSecret replaced by its SHA-256
// ("dataSha256"), for every answer that shows events: the feed, history and diffs show that
// and when a secret changed, who changed it, but never its value. A GET of the secret itself
// still answers its data, as Kuma's does.
func redact(ev events.Event) events.Event {
	if len(ev.Data) == 0 {
		return ev
	}
	var head struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(ev.Data, &head) == nil && !secretTypes[head.Type] {
		return ev
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(ev.Data, &doc); err != nil {
		ev.Data = nil // unreadable: show nothing rather than risk showing the material
		return ev
	}
	if raw, ok := doc["data"]; ok {
		sum := sha256.Sum256(raw)
		delete(doc, "data")
		doc["dataSha256"], _ = json.Marshal(hex.EncodeToString(sum[:]))
	}
	out, err := json.Marshal(doc)
	if err != nil {
		ev.Data = nil
		return ev
	}
	ev.Data = out
	return ev
}
