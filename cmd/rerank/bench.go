package main

import "fmt"

func runBench(e *env, args []string) int {
	fmt.Fprintln(e.stderr, "rerank: not implemented yet")
	return exitFailure
}
