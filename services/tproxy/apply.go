package tproxy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Applier applies and removes the rules with iptables-save and iptables-restore (ip6tables-save
// and ip6tables-restore for IPv6). Each change is one iptables-restore --noflush transaction
// per family, so a half-installed proxy is never seen and other rules of the nat table are kept.
type Applier struct {
	// Prefix runs the iptables commands through another command, e.g. {"ip", "netns", "exec",
	// "app"}; empty runs them directly.
	Prefix []string
	// Binary is the command family: "iptables" (whatever backend it links to, nft on current
	// distributions), "iptables-nft" or "iptables-legacy"; the ip6tables name is derived.
	Binary string
	Log    *slog.Logger
}

// ErrNoIptables is returned when the iptables commands are not installed.
var ErrNoIptables = errors.New("iptables-restore not found (install the iptables package)")

func (a Applier) binary(f Family, tool string) string {
	b := a.Binary
	if b == "" {
		b = "iptables"
	}
	if f == IPv6 {
		b = strings.Replace(b, "iptables", "ip6tables", 1)
	}
	// iptables-nft -> iptables-nft-restore; iptables -> iptables-restore.
	return b + "-" + tool
}

func (a Applier) logger() *slog.Logger {
	if a.Log != nil {
		return a.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (a Applier) run(ctx context.Context, stdin string, name string, args ...string) (string, error) {
	argv := append(slices.Clone(a.Prefix), name)
	argv = append(argv, args...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	if err := cmd.Run(); err != nil {
		if errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("%s: %w", name, ErrNoIptables)
		}
		return "", fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// Families are the families an install with c touches: IPv4, and IPv6 when c asks for it and
// the host has IPv6 and ip6tables.
func (a Applier) Families(c Config) []Family {
	fams := []Family{IPv4}
	if !c.IPv6 {
		return fams
	}
	if _, err := os.Stat("/proc/net/if_inet6"); err != nil {
		a.logger().Info("IPv6 disabled in the kernel; installing IPv4 rules only")
		return fams
	}
	// Through a Prefix (another namespace or host) the tools are looked up there, when run.
	if len(a.Prefix) == 0 {
		if _, err := exec.LookPath(a.binary(IPv6, "restore")); err != nil {
			a.logger().Info("ip6tables-restore not found; installing IPv4 rules only")
			return fams
		}
	}
	return append(fams, IPv6)
}

// Install replaces any earlier installation with c's rules, for each family, atomically per
// family. Installing twice leaves one copy of the rules.
func (a Applier) Install(ctx context.Context, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	for _, f := range a.Families(c) {
		saved, err := a.run(ctx, "", a.binary(f, "save"), "-t", "nat")
		if err != nil {
			return fmt.Errorf("read %s nat table: %w", f, err)
		}
		script := "*nat\n" + strings.Join(removal(saved, false), "")
		script += strings.Join(Rules(c, f), "\n") + "\nCOMMIT\n"
		if _, err := a.run(ctx, script, a.binary(f, "restore"), "--noflush", "--wait"); err != nil {
			return fmt.Errorf("install %s rules: %w", f, err)
		}
		a.logger().Info("transparent proxy rules installed", "family", f.String())
	}
	return nil
}

// Uninstall removes our chains and the rules of built-in chains that are ours or jump to our
// chains, for both families; other rules stay. Uninstalling when nothing is installed is fine.
func (a Applier) Uninstall(ctx context.Context) error {
	for _, f := range a.Families(Config{IPv6: true}) {
		saved, err := a.run(ctx, "", a.binary(f, "save"), "-t", "nat")
		if err != nil {
			return fmt.Errorf("read %s nat table: %w", f, err)
		}
		lines := removal(saved, true)
		if len(lines) == 0 {
			continue
		}
		script := "*nat\n" + strings.Join(lines, "") + "COMMIT\n"
		if _, err := a.run(ctx, script, a.binary(f, "restore"), "--noflush", "--wait"); err != nil {
			return fmt.Errorf("uninstall %s rules: %w", f, err)
		}
		a.logger().Info("transparent proxy rules removed", "family", f.String())
	}
	return nil
}

// removal turns an iptables-save of the nat table into the restore lines that undo an install:
// delete our rules in built-in chains, flush our chains and, when deleteChains, delete them
// (install redeclares them instead: a chain line on an existing chain flushes it). Each line
// ends with a newline.
func removal(saved string, deleteChains bool) []string {
	var dels, flush []string
	existing := map[string]bool{}
	for _, l := range strings.Split(saved, "\n") {
		if name, ok := strings.CutPrefix(l, ":"); ok {
			name, _, _ = strings.Cut(name, " ")
			if slices.Contains(ourChains, name) {
				existing[name] = true
			}
			continue
		}
		rest, ok := strings.CutPrefix(l, "-A ")
		if !ok {
			continue
		}
		chain, _, _ := strings.Cut(rest, " ")
		if slices.Contains(ourChains, chain) || !isOurs(l) {
			continue
		}
		dels = append(dels, "-D "+rest+"\n")
	}
	for _, ch := range ourChains {
		if existing[ch] {
			flush = append(flush, "-F "+ch+"\n")
		}
	}
	out := append(dels, flush...)
	if deleteChains {
		for _, ch := range ourChains {
			if existing[ch] {
				out = append(out, "-X "+ch+"\n")
			}
		}
	}
	return out
}

// kumaCommentPrefix starts the comments kumactl install transparent-proxy puts on its rules.
const kumaCommentPrefix = "kuma/mesh/transparent/proxy"

// isOurs tells our rules in a built-in chain: they carry our comment or kumactl's (so installing
// over kumactl's rules replaces them), or they jump to one of our chains (kumactl without
// comments).
func isOurs(rule string) bool {
	if strings.Contains(rule, commentPrefix+":") || strings.Contains(rule, kumaCommentPrefix) {
		return true
	}
	for _, ch := range ourChains {
		if strings.HasSuffix(rule, "-j "+ch) {
			return true
		}
	}
	return false
}
