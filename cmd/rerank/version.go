package main

import (
	"flag"
	"fmt"
	"github.com/gorerank/gorerank/tensor"
	"runtime"
	"runtime/debug"
)

// buildVersion is set at link time: go build -ldflags "-X main.buildVersion=v1.2.3".
var buildVersion = ""

// version is the link-time version, else the module version of `go install`, else "dev",
// with the VCS revision when the build recorded one.
func version() string {
	v := buildVersion
	bi, ok := debug.ReadBuildInfo()
	if v == "" && ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	if v == "" {
		v = "dev"
	}
	if ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			v += "+" + rev
			if dirty {
				v += "-dirty"
			}
		}
	}
	return v
}

func runVersion(e *env, args []string) int {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: rerank version\n\nPrint the version, the Go toolchain, the platform and the CPU kernel tier in use.\n\nExample:\n  rerank version")
	}
	if code, done := parseFlags(fs, e, args); done {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "rerank version: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	fmt.Fprintf(e.stdout, "rerank %s (%s, %s/%s)\ncpu tier %s\n", version(), runtime.Version(), runtime.GOOS, runtime.GOARCH, tensor.Tier())
	return exitOK
}
