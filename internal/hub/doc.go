// Package hub finds a model folder for `rerank serve --model` and `rerank download`: a local
// folder, a folder in the Hugging Face cache layout, or a hub model id ("BAAI/bge-reranker-v2-m3")
// downloaded on first use into that cache.
//
// Path or hub id: a --model that starts with ".", "/" or "~", or whose first element exists
// on disk (testdata/tiny while testdata does), is a path and never reaches the network; a
// missing or incomplete folder is ErrNoFolder, naming what is missing. Only what is left and
// shaped like ORG/NAME is a hub id.
//
// The cache is huggingface_hub's, so Python tools and gorerank share downloads:
//
//	$HF_HUB_CACHE (default $HF_HOME/hub, default ~/.cache/huggingface/hub)
//	  models--ORG--NAME/
//	    refs/main                   the commit the branch pointed at when last resolved
//	    blobs/<etag>                file contents, named by sha256 (LFS) or git blob sha1
//	    snapshots/<commit>/<file>   relative symlinks to ../../blobs/<etag>
//
// Protocol (as the hub serves it): GET {endpoint}/api/models/{id}/revision/{rev} lists the
// commit and its files ("siblings"); HEAD {endpoint}/{id}/resolve/{commit}/{file} gives the
// file's identity without following the CDN redirect: X-Repo-Commit, X-Linked-Etag /
// X-Linked-Size for LFS files, ETag / Content-Length otherwise. Downloads go to
// blobs/<etag>.incomplete, resume with a Range request, and are checked against the size and
// the etag (sha256 for LFS files, git blob sha1 otherwise) before they are renamed into place.
//
// What is fetched: what a model folder needs (DefaultFiles): config and tokenizer JSON,
// safetensors weights, and PyTorch files only where no safetensors stands in for them, as for
// BAAI/bge-m3 (pytorch_model.bin, sparse_linear.pt, colbert_linear.pt, 1_Pooling/config.json).
//
// Environment: HF_HOME, HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN (else $HF_HOME/token),
// HF_HUB_OFFLINE=1 (use the cache only). The package never prints except to Options.Progress.
package hub
