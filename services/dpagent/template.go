package dpagent

import (
	"encoding/csv"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
)

// Render fills a --dataplane-file template. kuma-dp renders it as Mustache
// (github.com/hoisie/mustache): {{ name }} is replaced by the HTML-escaped value,
// {{{ name }}} and {{& name }} by the raw value, {{! ... }} is a comment, and
// {{# name }}...{{/ name }} / {{^ name }}...{{/ name }} keep their content when the variable
// is set / not set. Dotted names ("a.b") are looked up as given.
//
// Unlike kuma-dp, which silently renders a missing variable as nothing, every variable used
// outside a section that does not apply must have a value: the error names the missing ones.
// Partials and delimiter changes are not supported.
func Render(tmpl string, vars map[string]string) ([]byte, error) {
	toks, err := lexTemplate(tmpl)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	var missing []string
	type section struct {
		name   string
		line   int
		active bool
	}
	stack := []section{{active: true}}
	for _, t := range toks {
		active := stack[len(stack)-1].active
		switch t.kind {
		case tokText:
			if active {
				out.WriteString(t.text)
			}
		case tokVar, tokRawVar:
			if !active {
				continue
			}
			v, ok := vars[t.name]
			switch {
			case !ok:
				if !slices.Contains(missing, t.name) {
					missing = append(missing, t.name)
				}
			case t.kind == tokVar:
				out.WriteString(template.HTMLEscapeString(v))
			default:
				out.WriteString(v)
			}
		case tokSection, tokInverted:
			_, set := vars[t.name]
			stack = append(stack, section{name: t.name, line: t.line, active: active && set == (t.kind == tokSection)})
		case tokEnd:
			if top := stack[len(stack)-1]; len(stack) == 1 || top.name != t.name {
				return nil, fmt.Errorf("dataplane template: line %d: unexpected {{/%s}}", t.line, t.name)
			}
			stack = stack[:len(stack)-1]
		}
	}
	if top := stack[len(stack)-1]; len(stack) > 1 {
		return nil, fmt.Errorf("dataplane template: line %d: section %q is never closed", top.line, top.name)
	}
	if len(missing) > 0 {
		return nil, missingVarsError(missing)
	}
	return []byte(out.String()), nil
}

func missingVarsError(names []string) error {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	noun := "variable"
	if len(names) > 1 {
		noun = "variables"
	}
	return fmt.Errorf("dataplane template: no value for %s %s; pass --dataplane-var %s=VALUE",
		noun, strings.Join(quoted, ", "), names[0])
}

type tokKind int

const (
	tokText tokKind = iota
	tokVar
	tokRawVar
	tokSection
	tokInverted
	tokEnd
)

type token struct {
	kind tokKind
	text string // tokText
	name string
	line int
}

// lexTemplate splits a template into text and tags. Like hoisie/mustache, a newline right
// after a section's opening tag is dropped.
func lexTemplate(s string) ([]token, error) {
	var toks []token
	line := 1
	for len(s) > 0 {
		i := strings.Index(s, "{{")
		if i < 0 {
			toks = append(toks, token{kind: tokText, text: s})
			break
		}
		toks = append(toks, token{kind: tokText, text: s[:i]})
		line += strings.Count(s[:i], "\n")
		s = s[i:]
		closer := "}}"
		if strings.HasPrefix(s, "{{{") {
			closer = "}}}"
		}
		j := strings.Index(s, closer)
		if j < 0 {
			return nil, fmt.Errorf("dataplane template: line %d: unclosed tag", line)
		}
		raw := s[2:j]
		if closer == "}}}" {
			raw = "&" + s[3:j]
		}
		s = s[j+len(closer):]
		tok, err := parseTag(strings.TrimSpace(raw), line)
		if err != nil {
			return nil, err
		}
		line += strings.Count(raw, "\n")
		if tok.kind == tokSection || tok.kind == tokInverted {
			if strings.HasPrefix(s, "\r\n") {
				s, line = s[2:], line+1
			} else if strings.HasPrefix(s, "\n") {
				s, line = s[1:], line+1
			}
		}
		if tok.kind != tokText {
			toks = append(toks, tok)
		}
	}
	return toks, nil
}

func parseTag(tag string, line int) (token, error) {
	if tag == "" {
		return token{}, fmt.Errorf("dataplane template: line %d: empty tag {{}}", line)
	}
	name := strings.TrimSpace(tag[1:])
	kind := tokVar
	switch tag[0] {
	case '!':
		return token{kind: tokText}, nil // a comment renders as nothing
	case '&':
		kind = tokRawVar
	case '#':
		kind = tokSection
	case '^':
		kind = tokInverted
	case '/':
		kind = tokEnd
	case '>', '=':
		return token{}, fmt.Errorf("dataplane template: line %d: {{%s}}: partials and delimiter changes are not supported", line, tag)
	default:
		name = tag
	}
	if name == "" {
		return token{}, fmt.Errorf("dataplane template: line %d: tag {{%s}} has no name", line, tag)
	}
	return token{kind: kind, name: name, line: line}, nil
}

// varsValue is --dataplane-var with pflag's StringToString rules (as kuma-dp): "k=v" sets
// one variable (commas allowed in v), "a=1,b=2" (more than one "=") is read as CSV pairs, and
// repeating the flag adds to the map.
type varsValue map[string]string

func (v *varsValue) String() string {
	keys := slices.Sorted(maps.Keys(*v))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + (*v)[k]
	}
	return strings.Join(parts, ",")
}

func (v *varsValue) Set(s string) error {
	var pairs []string
	switch strings.Count(s, "=") {
	case 0:
		return fmt.Errorf("%q must be formatted as name=value", s)
	case 1:
		pairs = []string{strings.Trim(s, `"`)}
	default:
		rec, err := csv.NewReader(strings.NewReader(s)).Read()
		if err != nil {
			return fmt.Errorf("%q: %w", s, err)
		}
		pairs = rec
	}
	if *v == nil {
		*v = map[string]string{}
	}
	for _, p := range pairs {
		k, val, ok := strings.Cut(p, "=")
		if !ok || k == "" {
			return errors.New(p + " must be formatted as name=value")
		}
		(*v)[k] = val
	}
	return nil
}
