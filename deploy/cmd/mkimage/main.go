// Command mkimage builds the rerank container image from a static binary, with no Docker
// engine and no network, as an OCI image layout and/or a `docker load` tarball.
//
//	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -ldflags '-s -w' -o /tmp/rerank ./cmd/rerank
//	cd deploy && go run ./cmd/mkimage --binary /tmp/rerank --oci /tmp/rerank-oci --tag gorerank:dev
//	skopeo copy oci:/tmp/rerank-oci:gorerank:dev docker://registry.example.com/gorerank:dev
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gorerank/gorerank/deploy/image"
)

func main() {
	var s image.Spec
	var oci, tarPath, tag string
	flag.StringVar(&s.Binary, "binary", "", "static linux rerank binary (CGO_ENABLED=0) (required)")
	flag.StringVar(&s.CACerts, "ca-certs", "/etc/ssl/certs/ca-certificates.crt", "CA bundle for HTTPS model downloads; empty: none")
	flag.StringVar(&s.Arch, "arch", "amd64", "GOARCH of the binary")
	flag.StringVar(&s.Version, "version", "dev", "version label")
	flag.StringVar(&s.Revision, "revision", "", "VCS revision label")
	flag.StringVar(&oci, "oci", "", "write an OCI image layout to this folder")
	flag.StringVar(&tarPath, "tar", "", "write a docker-load tarball to this file")
	flag.StringVar(&tag, "tag", "gorerank:dev", "image reference")
	flag.Parse()
	if s.Binary == "" || (oci == "" && tarPath == "") || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: mkimage --binary FILE (--oci DIR | --tar FILE) [flags]")
		flag.PrintDefaults()
		os.Exit(2)
	}
	s.OS = "linux"
	s.Created = time.Unix(0, 0).UTC()
	if e := os.Getenv("SOURCE_DATE_EPOCH"); e != "" { // reproducible-builds.org convention
		sec, err := strconv.ParseInt(e, 10, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "mkimage: SOURCE_DATE_EPOCH: %v\n", err)
			os.Exit(2)
		}
		s.Created = time.Unix(sec, 0).UTC()
	}
	img, err := image.Build(s)
	if err == nil && oci != "" {
		err = image.WriteLayout(oci, tag, img)
	}
	if err == nil && tarPath != "" {
		err = image.WriteTarball(tarPath, tag, img)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "mkimage: %v\n", err)
		os.Exit(1)
	}
	d, _ := img.Digest()
	fmt.Println(d)
}
