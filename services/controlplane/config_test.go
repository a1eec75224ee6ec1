package controlplane

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"go.uber.org/fx"
)

// The documented defaults file must say what the code does.
func TestDocumentedDefaultsEqualCode(t *testing.T) {
	var fromFile Config
	if err := fromFile.LoadFile(filepath.Join("..", "..", "deploy", "jetmesh-cp.defaults.yaml")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(DefaultConfig(), fromFile, cmpopts.EquateEmpty()); diff != "" {
		t.Fatalf("deploy/jetmesh-cp.defaults.yaml differs from DefaultConfig (-code +file):\n%s", diff)
	}
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
}

func TestEnvOverridesFileAndNamesBadValues(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cp.yaml")
	if err := os.WriteFile(file, []byte("apiServer:\n  http:\n    port: 7000\nstore:\n  historyMaxAge: 72h\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := cfg.LoadFile(file); err != nil {
		t.Fatal(err)
	}
	if cfg.APIServer.HTTP.Port != 7000 || time.Duration(cfg.Store.HistoryMaxAge) != 72*time.Hour {
		t.Fatalf("file not applied: %+v", cfg)
	}
	env := map[string]string{"KUMA_API_SERVER_HTTP_PORT": "7001", "KUMA_MULTIZONE_ZONE_NAME": "east", "JETMESH_DATA_DIR": "~/x"}
	if err := cfg.LoadEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	home, _ := os.UserHomeDir()
	if cfg.APIServer.HTTP.Port != 7001 || cfg.Multizone.Zone.Name != "east" || cfg.DataDir != filepath.Join(home, "x") {
		t.Fatalf("env not applied: %+v", cfg)
	}
	bad := map[string]string{"KUMA_API_SERVER_READ_ONLY": "maybe"}
	err := cfg.LoadEnv(func(k string) (string, bool) { v, ok := bad[k]; return v, ok })
	if err == nil || !strings.Contains(err.Error(), "KUMA_API_SERVER_READ_ONLY") {
		t.Fatalf("bad env value: %v", err)
	}
}

func TestConfigErrorsSayWhatIsWrong(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cp.yaml")
	if err := os.WriteFile(file, []byte("apiServr:\n  port: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	if err := cfg.LoadFile(file); err == nil || !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), "apiServr") {
		t.Fatalf("unknown key: %v", err)
	}
	cases := map[string]func(*Config){
		"mode":                  func(c *Config) { c.Mode = "federated" },
		"nats.embedded.port":    func(c *Config) { c.NATS.Embedded.Port = 4222 },
		"api: port":             func(c *Config) { c.APIServer.HTTP.Port = 70000 },
		"store.type":            func(c *Config) { c.Store.Type = "etcd" },
		"multizone.zone.name":   func(c *Config) { c.Multizone.Zone.Name = "" },
		"store.replicas":        func(c *Config) { c.Store.Replicas = 0 },
		"shutdownTimeout":       func(c *Config) { c.ShutdownTimeout = 0 },
		"environment":           func(c *Config) { c.Environment = "k8s" },
		"store.postgres":        func(c *Config) { c.Store.Type, c.Store.Postgres.Port = "postgres", 0 },
		"defaults.meshName":     func(c *Config) { c.Defaults.MeshName = "" },
		"address \"not-an-ip\"": func(c *Config) { c.APIServer.HTTP.Interface = "not-an-ip" },
	}
	for want, mutate := range cases {
		c := DefaultConfig()
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: Validate() = %v", want, err)
		}
	}
}

func TestModuleGraphIsComplete(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Store.HistoryMaxAge = Duration(time.Hour)
	if err := fx.ValidateApp(Module(cfg, slog.New(slog.DiscardHandler)), fx.NopLogger); err != nil {
		t.Fatal(err)
	}
}
