package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Object is a stored file as the pipeline sees it.
type Object struct {
	Key          string
	ContentType  string            // e.g. "video/mp4"
	Size         int64             // bytes; -1 when unknown before upload
	FileName     string            // shown by browsers; UTF-8 allowed (RFC 2231 in the header)
	Metadata     map[string]string // user metadata (x-amz-meta-*), lower-case names
	LastModified time.Time
	ETag         string // entity tag without quotes; changes when the content does
}

// Link is a direct link to an object.
type Link struct {
	URL     string
	Expires time.Time // zero for public links
}

// Store puts prepared files into one bucket and makes links to them. It is
// safe for concurrent use.
type Store struct {
	cfg     Config
	s3      *s3.Client
	presign *s3.PresignClient
	tm      *transfermanager.Client

	listPageSize int32 // keys per ListObjectsV2 page; 0 means the server's default (1000)
	putFileLimit int64 // largest file PutFile sends in one PutObject; 0 means maxPutObject
}

// New validates cfg and returns a Store. It reads credentials from the
// standard AWS chain unless cfg.Credentials is set; it does not contact the
// server (see Ping).
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	opts := []func(*config.LoadOptions) error{
		config.WithRegion(cfg.Region),
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
	}
	if cfg.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(cfg.Credentials))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("storage: AWS configuration: %w", err)
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.PathStyle
	})
	tm := transfermanager.New(client, func(o *transfermanager.Options) {
		o.PartSizeBytes = cfg.PartSize
		o.MultipartUploadThreshold = cfg.PartSize
		o.Concurrency = cfg.Concurrency
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.FailTimeout = 30 * time.Second // abort a failed multipart upload even after ctx is canceled
	})
	return &Store{cfg: cfg, s3: client, presign: s3.NewPresignClient(client), tm: tm}, nil
}

// Key returns the object key of a prepared file: the configured prefix, the
// first 16 hex digits of digest (which must identify the content and the
// options it was prepared with), then the ASCII slug and extension, e.g.
// "statuses/3fa2c0de91b47a10-beach.mp4".
func (s *Store) Key(digest, slug, ext string) string {
	return keyOf(s.cfg.Prefix, digest, slug, ext)
}

func keyOf(prefix, digest, slug, ext string) string {
	name := fmt.Sprintf("%.16s-%s%s", digest, slug, ext)
	if prefix == "" {
		return name
	}
	return prefix + "/" + name
}

// Ping checks that the bucket exists and the credentials reach it.
func (s *Store) Ping(ctx context.Context) error {
	_, err := s.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.cfg.Bucket)})
	if err != nil {
		return opError("head bucket", s.cfg.Bucket, err)
	}
	return nil
}

// Lookup returns the stored object at key, and false when there is none.
func (s *Store) Lookup(ctx context.Context, key string) (Object, bool, error) {
	out, err := s.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return Object{}, false, nil
		}
		return Object{}, false, opError("head", key, err)
	}
	return objectOf(key, out.ContentType, out.ContentDisposition, out.ETag, out.ContentLength, out.LastModified, out.Metadata), true, nil
}

// objectOf is the Object described by the headers of a HEAD or GET answer.
// The SDK has already lower-cased the names of the user metadata.
func objectOf(key string, ctype, disposition, etag *string, size *int64, modified *time.Time, md map[string]string) Object {
	obj := Object{
		Key:          key,
		ContentType:  aws.ToString(ctype),
		Size:         aws.ToInt64(size),
		Metadata:     md,
		LastModified: aws.ToTime(modified),
		ETag:         strings.Trim(aws.ToString(etag), `"`),
	}
	if _, params, err := mime.ParseMediaType(aws.ToString(disposition)); err == nil {
		obj.FileName = params["filename"]
	}
	return obj
}

// Put streams body to key with obj's Content-Type, file name and metadata,
// an inline Content-Disposition and the configured Cache-Control. obj.Size
// may be -1 when unknown. Memory use is bounded by the part size times the
// concurrency, whatever the size of body. A failed multipart upload is
// aborted, so nothing half-written stays behind under key.
func (s *Store) Put(ctx context.Context, key string, body io.Reader, obj Object) (Object, error) {
	if obj.ContentType == "" {
		return Object{}, fmt.Errorf("storage: put %s: no content type", key)
	}
	in := &transfermanager.UploadObjectInput{
		Bucket:             aws.String(s.cfg.Bucket),
		Key:                aws.String(key),
		Body:               body,
		ContentType:        aws.String(obj.ContentType),
		ContentDisposition: aws.String(inlineDisposition(obj.FileName)),
		CacheControl:       aws.String(s.cfg.CacheControl),
		Metadata:           obj.Metadata,
	}
	if obj.Size >= 0 {
		in.ContentLength = aws.Int64(obj.Size)
	}
	out, err := s.tm.UploadObject(ctx, in)
	if err != nil {
		return Object{}, opError("put", key, err)
	}
	obj.Key = key
	obj.ETag = strings.Trim(aws.ToString(out.ETag), `"`)
	return obj, nil
}

// Delete removes the object at key; a missing object is not an error.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil && !isNotFound(err) {
		return opError("delete", key, err)
	}
	return nil
}

// Link returns a direct link to key: presigned for LinkTTL, or under
// PublicBaseURL.
func (s *Store) Link(ctx context.Context, key string) (Link, error) {
	if s.cfg.LinkMode == LinkPublic {
		u, err := url.JoinPath(s.cfg.PublicBaseURL, key)
		if err != nil {
			return Link{}, fmt.Errorf("storage: link %s: %w", key, err)
		}
		return Link{URL: u}, nil
	}
	now := time.Now()
	expires := now.Add(s.cfg.LinkTTL)
	// A presigned link dies with the credentials that signed it, whatever
	// its own expiry says (temporary keys: SSO, STS, instance roles).
	creds, err := s.s3.Options().Credentials.Retrieve(ctx)
	if err != nil {
		return Link{}, opError("presign", key, err)
	}
	if creds.CanExpire && creds.Expires.Before(expires) {
		if creds.Expires.Before(now.Add(MinLinkTTL)) {
			return Link{}, fmt.Errorf("%w: presign %s: the credentials expire at %s, so the link would die before Green API's 24-hour queue ends: use long-lived keys, or MEDIAPREP_LINK_MODE=public",
				ErrFailed, key, creds.Expires.UTC().Format(time.RFC3339))
		}
		expires = creds.Expires
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.cfg.Bucket),
		Key:    aws.String(key),
	}, s3.WithPresignExpires(s.cfg.LinkTTL))
	if err != nil {
		return Link{}, opError("presign", key, err)
	}
	// Whole seconds, like every time of a job (rounded down: never later
	// than the link dies).
	return Link{URL: req.URL, Expires: expires.UTC().Truncate(time.Second)}, nil
}

// inlineDisposition is "inline" with the file name, non-ASCII names encoded
// as RFC 2231 UTF-8 (filename*=utf-8”…).
func inlineDisposition(name string) string {
	if name == "" {
		return "inline"
	}
	if d := mime.FormatMediaType("inline", map[string]string{"filename": name}); d != "" {
		return d
	}
	return "inline"
}

func isNotFound(err error) bool {
	var nf *types.NotFound
	var nsk *types.NoSuchKey
	if errors.As(err, &nf) || errors.As(err, &nsk) {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotFound
}

// String describes the store without secrets, for logs.
func (s *Store) String() string {
	ep := s.cfg.Endpoint
	if ep == "" {
		ep = "aws:" + s.cfg.Region
	}
	return strings.TrimSuffix(ep, "/") + "/" + s.cfg.Bucket
}

// maxPutObject is the largest object S3 accepts in one PutObject.
const maxPutObject = 5 << 30

// List returns every object under prefix (a plain string prefix, e.g.
// "inbox/"), in key order, with Key, Size, LastModified and ETag set. It
// pages through ListObjectsV2; multipart uploads in progress are not objects
// yet and do not appear, nor do folder markers (keys ending in "/").
func (s *Store) List(ctx context.Context, prefix string) ([]Object, error) {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.cfg.Bucket), Prefix: aws.String(prefix)}
	if s.listPageSize > 0 {
		in.MaxKeys = aws.Int32(s.listPageSize)
	}
	var objs []Object
	for p := s3.NewListObjectsV2Paginator(s.s3, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, opError("list", prefix, err)
		}
		for _, o := range page.Contents {
			key := aws.ToString(o.Key)
			if strings.HasSuffix(key, "/") {
				continue
			}
			objs = append(objs, Object{
				Key:          key,
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified),
				ETag:         strings.Trim(aws.ToString(o.ETag), `"`),
			})
		}
	}
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// Download streams the object at key into the file dst and returns its
// metadata, as Lookup does. The content goes to a hidden temporary file next
// to dst, synced and then renamed to dst, so dst is either the whole object
// or untouched. A missing key is an error matching ErrNotFound.
func (s *Store) Download(ctx context.Context, key, dst string) (Object, error) {
	out, err := s.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.cfg.Bucket), Key: aws.String(key)})
	if err != nil {
		if isNotFound(err) {
			return Object{}, notFound("download", key)
		}
		return Object{}, opError("download", key, err)
	}
	defer out.Body.Close()
	obj := objectOf(key, out.ContentType, out.ContentDisposition, out.ETag, out.ContentLength, out.LastModified, out.Metadata)
	want := int64(-1)
	if out.ContentLength != nil {
		want = obj.Size
	}
	if _, err := writeFile(ctx, dst, out.Body, want); err != nil {
		return Object{}, opError("download", key, err)
	}
	return obj, nil
}

// PutFile stores the file at path under key, like Put. A file of up to
// 5 GiB goes in a single PutObject with the open file as its body, so it is
// read from disk (twice over plain HTTP: once for the request signature) and
// never held in memory; a larger one takes Put's multipart path.
func (s *Store) PutFile(ctx context.Context, key, path string, obj Object) (Object, error) {
	if obj.ContentType == "" {
		return Object{}, fmt.Errorf("storage: put %s: no content type", key)
	}
	f, fi, err := openSource(key, path)
	if err != nil {
		return Object{}, err
	}
	defer f.Close()
	obj.Size = fi.Size()
	limit := s.putFileLimit
	if limit <= 0 {
		limit = maxPutObject
	}
	if obj.Size > limit {
		return s.Put(ctx, key, f, obj)
	}
	out, err := s.s3.PutObject(ctx, &s3.PutObjectInput{
		Bucket:             aws.String(s.cfg.Bucket),
		Key:                aws.String(key),
		Body:               f,
		ContentLength:      aws.Int64(obj.Size),
		ContentType:        aws.String(obj.ContentType),
		ContentDisposition: aws.String(inlineDisposition(obj.FileName)),
		CacheControl:       aws.String(s.cfg.CacheControl),
		Metadata:           obj.Metadata,
	})
	if err != nil {
		return Object{}, opError("put", key, err)
	}
	obj.Key = key
	obj.ETag = strings.Trim(aws.ToString(out.ETag), `"`)
	return obj, nil
}

// Move renames the object at from to to: a server-side CopyObject that keeps
// its content type, disposition, cache control and metadata, then a
// DeleteObject of from. A missing from is an error matching ErrNotFound.
// (CopyObject copies at most 5 GiB; larger objects fail with ErrFailed.)
func (s *Store) Move(ctx context.Context, from, to string) error {
	if from == to {
		// S3 refuses to copy an object onto itself without a change.
		if _, ok, err := s.Lookup(ctx, from); err != nil || !ok {
			if err == nil {
				err = notFound("move", from)
			}
			return err
		}
		return nil
	}
	_, err := s.s3.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket:            aws.String(s.cfg.Bucket),
		Key:               aws.String(to),
		CopySource:        aws.String(s.cfg.Bucket + "/" + escapeKey(from)),
		MetadataDirective: types.MetadataDirectiveCopy,
	})
	if err != nil {
		if isNotFound(err) {
			return notFound("move", from)
		}
		return opError("move "+from+" to", to, err)
	}
	if err := s.Delete(ctx, from); err != nil {
		return fmt.Errorf("%w (copied to %s)", err, to)
	}
	return nil
}
