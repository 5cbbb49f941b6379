// Package storage keeps prepared files in S3-compatible object storage and
// makes the direct links Green API fetches them from.
//
// It is the "store" and "verify link" steps of the pipeline:
//
//   - Put streams a file to a bucket with the transfer manager (multipart,
//     never the whole file in memory) and gives the object the Content-Type
//     of the prepared file, an inline Content-Disposition and a
//     Cache-Control. Keys are plain ASCII and derived from the content (see
//     Store.Key; the caller gives the slug, pipeline.Slug), so the same
//     content with the same options is stored once.
//   - Link makes a link to an object: a presigned GET that outlives Green
//     API's 24-hour queue (default 72 h, at most 7 days), or a public base URL
//     plus the key for public buckets and CDNs.
//   - CheckLink fetches a link the way Green API will and refuses one that
//     would be accepted with HTTP 200 and then never delivered: a wrong or
//     generic Content-Type, or a download ("attachment") disposition.
//
// The service also lists, downloads, stores local files and moves objects
// (List, Download, PutFile, Move). Downloads and local writes go to a hidden
// temporary file that is renamed once complete, so no partial file is ever
// visible under its final name.
//
// Dir is the same surface on a local folder, for a service without object
// storage: objects are files under its root, their content type and
// metadata sit in a hidden .meta folder, and its MediaHandler serves the
// prepared files at the links it makes.
//
// It works with AWS S3 and with S3-compatible stores (MinIO, versitygw, Ceph,
// R2…): a custom endpoint, path-style addressing, and checksums computed only
// when an operation requires them, since several compatible stores refuse
// the SDK's default CRC32 trailers.
package storage
