package main

import (
	"regexp"
	"strings"
	"testing"
)

func TestUsage(t *testing.T) {
	code, stdout, stderr := runCmd("", "--help")
	if code != exitOK || stdout != "" {
		t.Errorf("--help: exit %d, stdout %q", code, stdout)
	}
	for _, want := range []string{"usage: rerank <command>", "Exit status:", "0  success", "1  failure", "2  usage error"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("--help does not say %q:\n%s", want, stderr)
		}
	}
	for _, c := range commands {
		if !strings.Contains(stderr, "  "+c.name+" ") {
			t.Errorf("--help does not list %q", c.name)
		}
	}
	if code, _, stderr := runCmd(""); code != exitUsage || !strings.Contains(stderr, "Exit status:") {
		t.Errorf("no arguments: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := runCmd("", "bogus"); code != exitUsage || !strings.Contains(stderr, `unknown command "bogus"`) {
		t.Errorf("unknown command: exit %d, stderr %q", code, stderr)
	}
}

// TestSubcommandHelp checks that every subcommand's --help exits 0, writes only to stderr,
// and shows a usage line and at least one example.
func TestSubcommandHelp(t *testing.T) {
	for _, c := range commands {
		for _, flag := range []string{"--help", "-h"} {
			code, stdout, stderr := runCmd("", c.name, flag)
			if code != exitOK || stdout != "" {
				t.Errorf("%s %s: exit %d, stdout %q", c.name, flag, code, stdout)
			}
			if !strings.HasPrefix(stderr, "usage: rerank "+c.name) {
				t.Errorf("%s %s: no usage line:\n%s", c.name, flag, stderr)
			}
			i := strings.Index(stderr, "\nExample")
			if i < 0 || !regexp.MustCompile(`\brerank `+regexp.QuoteMeta(c.name)+`\b`).MatchString(stderr[i:]) {
				t.Errorf("%s %s: no example:\n%s", c.name, flag, stderr)
			}
		}
	}
}
