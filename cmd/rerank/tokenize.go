package main

import "fmt"

func runTokenize(e *env, args []string) int {
	fmt.Fprintln(e.stderr, "rerank: not implemented yet")
	return exitFailure
}
