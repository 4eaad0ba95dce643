module github.com/gorerank/gorerank

go 1.26
