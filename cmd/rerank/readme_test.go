package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gorerank/gorerank"
)

// readme returns README.md's section that starts at the heading line head, up to the next
// heading of the same or a higher level.
func readme(t *testing.T, head string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i := strings.Index(s, "\n"+head+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", head)
	}
	s = s[i+1+len(head)+1:]
	level := strings.Repeat("#", strings.Index(head, " "))
	for _, l := range regexp.MustCompile(`(?m)^#+ `).FindAllStringIndex(s, -1) {
		if l[1]-l[0]-1 <= len(level) && !insideFence(s[:l[0]]) {
			return s[:l[0]]
		}
	}
	return s
}

// insideFence reports whether the end of s is inside a ``` block.
func insideFence(s string) bool { return strings.Count(s, "\n```")%2 == 1 }

// TestREADMECommands: the command list in README.md's CLI section is the binary's command
// table, every command with its summary, in order.
func TestREADMECommands(t *testing.T) {
	s := readme(t, "## CLI")
	_, list, ok := strings.Cut(s, "\ncommands:\n")
	if !ok {
		t.Fatal("README.md's CLI section has no \"commands:\" list")
	}
	list, _, _ = strings.Cut(list, "```")
	var got, want []string
	for _, l := range strings.Split(strings.TrimSpace(list), "\n") {
		name, summary, _ := strings.Cut(strings.TrimSpace(l), " ")
		got = append(got, name+": "+strings.TrimSpace(summary))
	}
	for _, c := range commands {
		want = append(want, c.name+": "+c.summary)
	}
	if !slices.Equal(got, want) {
		t.Errorf("README.md lists the commands\n  %s\nthe binary has\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// helpFlags reads the flags and their printed defaults ("" when the help prints none) from
// a subcommand's --help (the flag package's PrintDefaults layout).
func helpFlags(t *testing.T, cmd string) map[string]string {
	t.Helper()
	code, _, stderr := runCmd("", cmd, "--help")
	if code != exitOK {
		t.Fatalf("%s --help: exit %d", cmd, code)
	}
	flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
	deflt := regexp.MustCompile(`\(default ([^:].*)\)$`) // "(default: ...)" is usage prose
	flags := map[string]string{}
	name := ""
	for _, l := range strings.Split(stderr, "\n") {
		if m := flagLine.FindStringSubmatch(l); m != nil {
			name = m[1]
			flags[name] = ""
			continue
		}
		if !strings.HasPrefix(l, "    \t") {
			name = ""
		}
		if m := deflt.FindStringSubmatch(l); m != nil && name != "" {
			d := m[1]
			if u, err := strconv.Unquote(d); err == nil {
				d = u
			}
			flags[name] = d
		}
	}
	return flags
}

// TestREADMEServeFlags: README.md's serve flag table (Configuration) is what rerank serve
// --help prints: every flag, none extra, and the default of each flag whose help shows one.
// A row may hold several flags ("`--host` / `--port`") with as many defaults, or one
// default for all of them.
func TestREADMEServeFlags(t *testing.T) {
	help := helpFlags(t, "serve")
	s := readme(t, "### Configuration")
	flagRe := regexp.MustCompile("`--([a-z0-9-]+)`")
	inTable := map[string]bool{}
	rows := map[string]string{}
	for _, row := range strings.Split(s, "\n") {
		if !strings.HasPrefix(row, "| `--") {
			continue
		}
		cells := strings.Split(strings.Trim(row, "| "), " | ")
		if len(cells) < 3 {
			t.Errorf("README.md serve flag row %q: want | flag | default | meaning |", row)
			continue
		}
		var names []string
		for _, m := range flagRe.FindAllStringSubmatch(cells[0], -1) {
			names = append(names, m[1])
		}
		defaults := strings.Split(cells[1], " / ")
		if len(defaults) != 1 && len(defaults) != len(names) {
			t.Errorf("README.md serve flag row %q: %d flags, %d defaults", row, len(names), len(defaults))
			continue
		}
		for i, name := range names {
			if inTable[name] {
				t.Errorf("README.md serve flag table: --%s twice", name)
			}
			inTable[name] = true
			rows[name] = row
			want, ok := help[name]
			if !ok {
				t.Errorf("README.md serve flag table: --%s, which rerank serve does not have", name)
				continue
			}
			d := defaults[0]
			if len(defaults) > 1 {
				d = defaults[i]
			}
			if d = strings.Trim(strings.TrimSpace(d), "`"); want != "" && d != want {
				t.Errorf("README.md serve flag table: --%s defaults to %q; rerank serve --help says %q", name, d, want)
			}
		}
	}
	for name, d := range help {
		if !inTable[name] {
			t.Errorf("README.md serve flag table lacks --%s (default %q)", name, d)
		}
	}
	for _, d := range gorerank.DTypes() {
		if !strings.Contains(rows["dtype"], "`"+d.String()+"`") {
			t.Errorf("README.md serve flag table: the --dtype row does not name %s", d)
		}
	}
}
