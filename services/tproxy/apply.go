package tproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
)

// Runner runs one command with stdin and returns its output; tests and dry runs replace it.
type Runner func(ctx context.Context, name string, args []string, stdin string) (string, error)

// Exec runs the command on this machine (in the caller's network namespace).
func Exec(ctx context.Context, name string, args []string, stdin string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(errOut.String())
		if msg == "" {
			msg = strings.TrimSpace(out.String())
		}
		return out.String(), fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return out.String(), nil
}

// tool names the iptables binaries of a family.
func tool(f Family, name string) string {
	if f.IPv6 {
		return strings.Replace(name, "iptables", "ip6tables", 1)
	}
	return name
}

var tables = []string{"raw", "nat"}

// Install removes any earlier installation and installs cfg, for IPv4 and (when cfg.IPv6)
// IPv6. Running it twice leaves the same rules as running it once. On a failure of one table
// the family's earlier state is restored.
func Install(ctx context.Context, run Runner, cfg Config) error {
	families := []Family{{}}
	if cfg.IPv6 {
		families = append(families, Family{IPv6: true})
	}
	for _, f := range families {
		if err := Uninstall(ctx, run, f); err != nil {
			return err
		}
		if _, err := run(ctx, tool(f, "iptables-restore"), []string{"--noflush"}, Rules(cfg, f)); err != nil {
			_ = Uninstall(ctx, run, f)
			return fmt.Errorf("install transparent proxy (%s): %w", familyName(f), err)
		}
	}
	return nil
}

// Uninstall removes this package's chains and rules of one family, leaving other rules.
func Uninstall(ctx context.Context, run Runner, f Family) error {
	for _, table := range tables {
		saved, err := run(ctx, tool(f, "iptables-save"), []string{"-t", table}, "")
		if err != nil {
			return fmt.Errorf("uninstall transparent proxy (%s): %w", familyName(f), err)
		}
		if !Installed(saved) {
			continue
		}
		if _, err := run(ctx, tool(f, "iptables-restore"), []string{"-T", table}, Strip(saved)); err != nil {
			return fmt.Errorf("uninstall transparent proxy (%s %s): %w", familyName(f), table, err)
		}
	}
	return nil
}

// UninstallAll removes the installation of both families; a family whose tools are missing
// (no ip6tables) has nothing installed.
func UninstallAll(ctx context.Context, run Runner) error {
	var errs []error
	for _, f := range []Family{{}, {IPv6: true}} {
		if _, err := exec.LookPath(tool(f, "iptables-save")); err != nil && f.IPv6 {
			continue
		}
		errs = append(errs, Uninstall(ctx, run, f))
	}
	return errors.Join(errs...)
}

// DryRun renders what Install would apply, per family.
func DryRun(cfg Config) string {
	var b strings.Builder
	b.WriteString("### IPv4 ###\n\n" + Rules(cfg, Family{}))
	if cfg.IPv6 {
		b.WriteString("\n### IPv6 ###\n\n" + Rules(cfg, Family{IPv6: true}))
	}
	return b.String()
}

func familyName(f Family) string {
	if f.IPv6 {
		return "IPv6"
	}
	return "IPv4"
}
