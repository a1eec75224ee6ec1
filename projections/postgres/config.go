package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/jetmesh/jetmesh/services/envvar"
)

// TLS modes, as Kuma names them (KUMA_STORE_POSTGRES_TLS_MODE).
const (
	TLSDisable    = "disable"    // plain TCP
	TLSVerifyNone = "verifyNone" // encrypted, the server's certificate is not checked
	TLSVerifyCA   = "verifyCa"   // encrypted, the certificate must be signed by the CA
	TLSVerifyFull = "verifyFull" // verifyCa, and the host name must match the certificate
)

// Config is Kuma's store.postgres section. Start from DefaultConfig.
type Config struct {
	Host     string `json:"host"`
	Port     int    `json:"port"`
	User     string `json:"user"`
	Password string `json:"password"`
	DBName   string `json:"dbName"`
	// ConnectionTimeout is in seconds, as in Kuma.
	ConnectionTimeout int `json:"connectionTimeout"`
	// MaxOpenConnections and MinOpenConnections bound the pool.
	MaxOpenConnections int       `json:"maxOpenConnections"`
	MinOpenConnections int       `json:"minOpenConnections"`
	TLS                TLSConfig `json:"tls"`
	// Schema is the search_path for jetmesh's tables; empty uses the server's default. Not a
	// Kuma setting: it lets several control planes (or tests) share one database.
	Schema string `json:"schema"`
}

// TLSConfig is Kuma's store.postgres.tls section.
type TLSConfig struct {
	Mode     string `json:"mode"`
	CAPath   string `json:"caPath"`
	CertPath string `json:"certPath"`
	KeyPath  string `json:"keyPath"`
}

// DefaultConfig returns Kuma's defaults.
func DefaultConfig() Config {
	return Config{
		Host: "127.0.0.1", Port: 15432, User: "kuma", Password: "kuma", DBName: "kuma",
		ConnectionTimeout: 5, MaxOpenConnections: 50, MinOpenConnections: 0,
		TLS: TLSConfig{Mode: TLSDisable},
	}
}

// envVars are Kuma's KUMA_STORE_POSTGRES_* settings.
var envVars = []envvar.Var[Config]{
	envvar.String("KUMA_STORE_POSTGRES_HOST", func(c *Config) *string { return &c.Host }),
	envvar.Int("KUMA_STORE_POSTGRES_PORT", func(c *Config) *int { return &c.Port }),
	envvar.String("KUMA_STORE_POSTGRES_USER", func(c *Config) *string { return &c.User }),
	envvar.String("KUMA_STORE_POSTGRES_PASSWORD", func(c *Config) *string { return &c.Password }),
	envvar.String("KUMA_STORE_POSTGRES_DB_NAME", func(c *Config) *string { return &c.DBName }),
	envvar.Int("KUMA_STORE_POSTGRES_CONNECTION_TIMEOUT", func(c *Config) *int { return &c.ConnectionTimeout }),
	envvar.Int("KUMA_STORE_POSTGRES_MAX_OPEN_CONNECTIONS", func(c *Config) *int { return &c.MaxOpenConnections }),
	envvar.Int("KUMA_STORE_POSTGRES_MIN_OPEN_CONNECTIONS", func(c *Config) *int { return &c.MinOpenConnections }),
	envvar.String("KUMA_STORE_POSTGRES_TLS_MODE", func(c *Config) *string { return &c.TLS.Mode }),
	envvar.String("KUMA_STORE_POSTGRES_TLS_CA_PATH", func(c *Config) *string { return &c.TLS.CAPath }),
	envvar.String("KUMA_STORE_POSTGRES_TLS_CERT_PATH", func(c *Config) *string { return &c.TLS.CertPath }),
	envvar.String("KUMA_STORE_POSTGRES_TLS_KEY_PATH", func(c *Config) *string { return &c.TLS.KeyPath }),
	envvar.String("JETMESH_STORE_POSTGRES_SCHEMA", func(c *Config) *string { return &c.Schema }),
}

// EnvNames returns the environment variables LoadEnv reads, for --help.
func EnvNames() []string { return envvar.Names(envVars) }

// LoadEnv applies Kuma's KUMA_STORE_POSTGRES_* variables.
func (c *Config) LoadEnv(lookup func(string) (string, bool)) error {
	return envvar.Load(c, envVars, lookup)
}

// Validate reports every problem with the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Host == "" {
		errs = append(errs, errors.New("postgres host: must not be empty"))
	}
	if c.Port < 1 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("postgres port %d: want 1-65535", c.Port))
	}
	if c.User == "" {
		errs = append(errs, errors.New("postgres user: must not be empty"))
	}
	if c.DBName == "" {
		errs = append(errs, errors.New("postgres dbName: must not be empty"))
	}
	if c.ConnectionTimeout < 0 {
		errs = append(errs, fmt.Errorf("postgres connectionTimeout %d: must not be negative", c.ConnectionTimeout))
	}
	if c.MaxOpenConnections < 1 {
		errs = append(errs, fmt.Errorf("postgres maxOpenConnections %d: want at least 1", c.MaxOpenConnections))
	}
	if c.MinOpenConnections < 0 || c.MinOpenConnections > c.MaxOpenConnections {
		errs = append(errs, fmt.Errorf("postgres minOpenConnections %d: want 0-%d (maxOpenConnections)",
			c.MinOpenConnections, c.MaxOpenConnections))
	}
	switch c.TLS.Mode {
	case TLSDisable, TLSVerifyNone:
	case TLSVerifyCA, TLSVerifyFull:
		if c.TLS.CAPath == "" {
			errs = append(errs, fmt.Errorf("postgres tls mode %s: caPath is required", c.TLS.Mode))
		}
	default:
		errs = append(errs, fmt.Errorf("postgres tls mode %q: use %s, %s, %s or %s",
			c.TLS.Mode, TLSDisable, TLSVerifyNone, TLSVerifyCA, TLSVerifyFull))
	}
	if (c.TLS.CertPath == "") != (c.TLS.KeyPath == "") {
		errs = append(errs, errors.New("postgres tls: certPath and keyPath go together"))
	}
	return errors.Join(errs...)
}

// sslMode maps Kuma's TLS mode to libpq's sslmode.
func sslMode(mode string) string {
	switch mode {
	case TLSVerifyNone:
		return "require"
	case TLSVerifyCA:
		return "verify-ca"
	case TLSVerifyFull:
		return "verify-full"
	}
	return "disable"
}

// DSN is the libpq keyword/value connection string for the configuration. The CA path is left
// out in verifyNone mode: with it, libpq (and pgx) would verify the chain after all.
func (c Config) DSN() string {
	kv := [][2]string{
		{"host", c.Host}, {"port", strconv.Itoa(c.Port)}, {"user", c.User},
		{"password", c.Password}, {"dbname", c.DBName}, {"sslmode", sslMode(c.TLS.Mode)},
	}
	if c.ConnectionTimeout > 0 {
		kv = append(kv, [2]string{"connect_timeout", strconv.Itoa(c.ConnectionTimeout)})
	}
	if c.TLS.Mode != TLSDisable {
		if c.TLS.Mode != TLSVerifyNone && c.TLS.CAPath != "" {
			kv = append(kv, [2]string{"sslrootcert", c.TLS.CAPath})
		}
		if c.TLS.CertPath != "" {
			kv = append(kv, [2]string{"sslcert", c.TLS.CertPath}, [2]string{"sslkey", c.TLS.KeyPath})
		}
	}
	parts := make([]string, len(kv))
	for i, p := range kv {
		parts[i] = p[0] + "=" + quote(p[1])
	}
	return strings.Join(parts, " ")
}

// quote writes a keyword/value value, single-quoted when it is empty or holds spaces, quotes
// or backslashes.
func quote(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// PoolConfig is the pgxpool configuration for the settings; it reads certificate files but
// does not connect.
func (c Config) PoolConfig() (*pgxpool.Config, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(c.DSN())
	if err != nil {
		return nil, fmt.Errorf("postgres configuration: %w", err)
	}
	pc.MaxConns = int32(c.MaxOpenConnections)
	pc.MinConns = int32(c.MinOpenConnections)
	if c.ConnectionTimeout > 0 {
		pc.ConnConfig.ConnectTimeout = time.Duration(c.ConnectionTimeout) * time.Second
	}
	// The application name tells operators (pg_stat_activity) which CP a connection is, and
	// with a schema, which of several CPs sharing the database.
	pc.ConnConfig.RuntimeParams["application_name"] = ApplicationName(c.Schema)
	if c.Schema != "" {
		pc.ConnConfig.RuntimeParams["search_path"] = c.Schema
	}
	return pc, nil
}

// ApplicationName is the application_name of the CP's connections with the given schema.
func ApplicationName(schema string) string {
	if schema == "" {
		return "jetmesh-cp"
	}
	return "jetmesh-cp:" + schema
}
