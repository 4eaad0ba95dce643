module github.com/gorerank/gorerank

go 1.26.0

require (
	github.com/rivo/uniseg v0.4.7
	github.com/x448/float16 v0.8.4
	golang.org/x/sys v0.50.0
	golang.org/x/text v0.44.0
	gonum.org/v1/gonum v0.17.0
)
