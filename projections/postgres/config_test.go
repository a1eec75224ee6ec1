package postgres_test

import (
	"strings"
	"testing"
	"time"

	"github.com/jetmesh/jetmesh/projections/postgres"
)

func TestDefaultsAreKumas(t *testing.T) {
	c := postgres.DefaultConfig()
	if c.Host != "127.0.0.1" || c.Port != 15432 || c.User != "kuma" || c.Password != "kuma" ||
		c.DBName != "kuma" || c.TLS.Mode != postgres.TLSDisable || c.MaxOpenConnections != 50 ||
		c.MinOpenConnections != 0 || c.ConnectionTimeout != 5 {
		t.Errorf("defaults %+v differ from Kuma's", c)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("defaults do not validate: %v", err)
	}
}

func TestDSNMapsKumaTLSModes(t *testing.T) {
	base := func(mode string) postgres.Config {
		c := postgres.DefaultConfig()
		c.Host, c.Port, c.User, c.Password, c.DBName = "db.example", 5432, "jm", "p w'\\", "mesh"
		c.TLS = postgres.TLSConfig{Mode: mode, CAPath: "/ca.pem", CertPath: "/c.pem", KeyPath: "/k.pem"}
		return c
	}
	const common = `host=db.example port=5432 user=jm password='p w\'\\' dbname=mesh`
	tests := []struct {
		mode, want string
	}{
		{postgres.TLSDisable, common + " sslmode=disable connect_timeout=5"},
		{postgres.TLSVerifyNone, common + " sslmode=require connect_timeout=5 sslcert=/c.pem sslkey=/k.pem"},
		{postgres.TLSVerifyCA, common + " sslmode=verify-ca connect_timeout=5 sslrootcert=/ca.pem sslcert=/c.pem sslkey=/k.pem"},
		{postgres.TLSVerifyFull, common + " sslmode=verify-full connect_timeout=5 sslrootcert=/ca.pem sslcert=/c.pem sslkey=/k.pem"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			if got := base(tt.mode).DSN(); got != tt.want {
				t.Errorf("DSN()\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestPoolConfig(t *testing.T) {
	c := postgres.DefaultConfig()
	c.Host, c.Port, c.User, c.Password, c.DBName = "10.0.0.7", 6543, "jm", "", "mesh"
	c.MaxOpenConnections, c.MinOpenConnections, c.ConnectionTimeout = 7, 2, 3
	pc, err := c.PoolConfig()
	if err != nil {
		t.Fatal(err)
	}
	cc := pc.ConnConfig
	if cc.Host != "10.0.0.7" || cc.Port != 6543 || cc.User != "jm" || cc.Password != "" || cc.Database != "mesh" {
		t.Errorf("connection %s@%s:%d/%s", cc.User, cc.Host, cc.Port, cc.Database)
	}
	if cc.TLSConfig != nil {
		t.Error("TLS configured in mode disable")
	}
	if pc.MaxConns != 7 || pc.MinConns != 2 || cc.ConnectTimeout != 3*time.Second {
		t.Errorf("pool max %d min %d timeout %s", pc.MaxConns, pc.MinConns, cc.ConnectTimeout)
	}

	c.TLS.Mode = postgres.TLSVerifyNone
	pc, err = c.PoolConfig()
	if err != nil {
		t.Fatal(err)
	}
	if tc := pc.ConnConfig.TLSConfig; tc == nil || !tc.InsecureSkipVerify || len(pc.ConnConfig.Fallbacks) != 0 {
		t.Errorf("verifyNone: want TLS without verification and no plaintext fallback, got %+v", tc)
	}

	c.TLS = postgres.TLSConfig{Mode: postgres.TLSVerifyFull, CAPath: t.TempDir() + "/missing.pem"}
	if _, err := c.PoolConfig(); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("verifyFull with a missing CA file: err = %v, want it named", err)
	}
}

func TestLoadEnvAndValidate(t *testing.T) {
	env := map[string]string{
		"KUMA_STORE_POSTGRES_HOST": "pg", "KUMA_STORE_POSTGRES_PORT": "5433",
		"KUMA_STORE_POSTGRES_USER": "u", "KUMA_STORE_POSTGRES_PASSWORD": "s3cret",
		"KUMA_STORE_POSTGRES_DB_NAME": "d", "KUMA_STORE_POSTGRES_TLS_MODE": "verifyCa",
		"KUMA_STORE_POSTGRES_TLS_CA_PATH": "/ca", "KUMA_STORE_POSTGRES_MAX_OPEN_CONNECTIONS": "9",
		"KUMA_STORE_POSTGRES_MIN_OPEN_CONNECTIONS": "1",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c := postgres.DefaultConfig()
	if err := c.LoadEnv(lookup); err != nil {
		t.Fatal(err)
	}
	want := postgres.DefaultConfig()
	want.Host, want.Port, want.User, want.Password, want.DBName = "pg", 5433, "u", "s3cret", "d"
	want.TLS = postgres.TLSConfig{Mode: "verifyCa", CAPath: "/ca"}
	want.MaxOpenConnections, want.MinOpenConnections = 9, 1
	if c != want {
		t.Errorf("LoadEnv:\n got %+v\nwant %+v", c, want)
	}
	if err := c.Validate(); err != nil {
		t.Error(err)
	}

	env["KUMA_STORE_POSTGRES_PORT"] = "x"
	if err := c.LoadEnv(lookup); err == nil || !strings.Contains(err.Error(), "KUMA_STORE_POSTGRES_PORT") {
		t.Errorf("bad port: err = %v", err)
	}

	bad := postgres.DefaultConfig()
	bad.TLS.Mode, bad.Port, bad.MinOpenConnections = "verify-full", 0, 60
	err := bad.Validate()
	for _, s := range []string{`tls mode "verify-full"`, "port 0", "minOpenConnections 60"} {
		if err == nil || !strings.Contains(err.Error(), s) {
			t.Errorf("Validate() = %v, want it to mention %s", err, s)
		}
	}
}
