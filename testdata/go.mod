// This go.mod only keeps the large fixtures out of the gorerank module zip
// (a directory with its own go.mod is excluded from the parent module).
module github.com/gorerank/gorerank/testdata

go 1.26
