// Package s3 is an enricher.ObjectStore kept in an Amazon S3 bucket (or an
// emulator of S3: LocalStack, moto's server), over aws-sdk-go-v2.
//
// One Store is one bucket: the service opens one for the raw tickets and one
// for the enriched records. S3 writes are atomic per object, so PutObject
// gives the contract's "old or new, never a mix" for free; the SDK client is
// safe for concurrent use, and so is a Store.
//
// Errors that S3 reports are translated here, so that no SDK type crosses the
// enricher interfaces: a missing key is ENOTFOUND, a missing bucket ENOTREADY, a key S3 cannot
// store is EINVALID, and anything else (network, throttling after the SDK's
// retries, permissions) is wrapped as is, which callers treat as transient or
// internal.
//
// Retries are the SDK's: the standard retryer (throttling, 5xx, dropped
// connections, with exponential backoff and jitter) unless the caller's
// aws.Config sets another Retryer or RetryMaxAttempts.
package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/ticket-enricher/enricher"
)

// MaxKeyLength is the longest key S3 accepts, in bytes of UTF-8.
const MaxKeyLength = 1024

// DefaultMaxObjectSize bounds what GetObject reads into memory when
// Options.MaxObjectSize is zero. Tickets are at most 256 KiB and enriched
// records a few tens of KiB, so this only stops an accident (a huge file
// dropped into the raw bucket by hand) from exhausting a worker's memory.
const DefaultMaxObjectSize = 64 << 20

// contentType is set on every object: the service stores JSON only (raw
// tickets and enriched records), and a browser or the console then shows it
// as such.
const contentType = "application/json"

// ErrNoSuchBucket is in the chain of the errors that mean the bucket itself
// is missing. Their code is ENOTREADY, not ENOTFOUND: a deployment that was
// never set up is a dependency to fix (the worker retries, the API answers
// 503), while a missing object is a permanent failure of one ticket.
var ErrNoSuchBucket = errors.New("no such bucket")

// Options tune the S3 client of a Store.
type Options struct {
	// UsePathStyle addresses the bucket in the URL path
	// (http://host/bucket/key) instead of the host name
	// (http://bucket.host/key). Emulators need it, because bucket host names
	// under 127.0.0.1 or localhost do not resolve: the caller sets it when
	// AWS_ENDPOINT_URL is set, and leaves it off for real AWS.
	UsePathStyle bool
	// MaxObjectSize is the largest object GetObject returns, in bytes;
	// larger ones are an ETOOLARGE error. Zero means DefaultMaxObjectSize.
	MaxObjectSize int64
}

// objectAPI is the part of the S3 client that a Store uses.
type objectAPI interface {
	PutObject(ctx context.Context, in *awss3.PutObjectInput, optFns ...func(*awss3.Options)) (*awss3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *awss3.GetObjectInput, optFns ...func(*awss3.Options)) (*awss3.GetObjectOutput, error)
}

// Store is the objects of one S3 bucket.
type Store struct {
	client  objectAPI
	bucket  string
	maxSize int64
}

var _ enricher.ObjectStore = (*Store)(nil)

// NewClient returns the S3 client for cfg and opts. The Store and the setup
// functions use the same client settings through it, so that `enricher
// setup` reaches the emulator the same way the service does.
//
// The SDK still validates the checksums of the objects that have one; it
// only stops logging, on every GetObject of an object stored without one
// (by an older client, or by an emulator), that it skipped the check: that
// line would go to the SDK's own logger, outside the service's logs, once
// per ticket.
func NewClient(cfg aws.Config, opts Options) *awss3.Client {
	return awss3.NewFromConfig(cfg, func(o *awss3.Options) {
		o.UsePathStyle = opts.UsePathStyle
		o.DisableLogOutputChecksumValidationSkipped = true
	})
}

// New returns the store of bucket. It does not contact S3: a missing bucket
// shows up on the first request, as an ENOTFOUND error that says to run
// `enricher setup`. The endpoint, region, credentials and retryer all come
// from cfg.
func New(cfg aws.Config, bucket string, opts Options) (*Store, error) {
	if err := validBucket(bucket); err != nil {
		return nil, err
	}
	if opts.MaxObjectSize < 0 {
		return nil, enricher.Errorf(enricher.EINVALID, "open bucket %q: negative MaxObjectSize %d", bucket, opts.MaxObjectSize)
	}
	return newStore(NewClient(cfg, opts), bucket, opts), nil
}

func newStore(client objectAPI, bucket string, opts Options) *Store {
	maxSize := opts.MaxObjectSize
	if maxSize == 0 {
		maxSize = DefaultMaxObjectSize
	}
	return &Store{client: client, bucket: bucket, maxSize: maxSize}
}

// Bucket returns the name of the store's bucket, which S3 event
// notifications carry and the worker compares.
func (s *Store) Bucket() string { return s.bucket }

// PutObject stores data under key with Content-Type application/json,
// replacing any previous object atomically.
func (s *Store) PutObject(ctx context.Context, key string, data []byte) error {
	if err := validKey(key); err != nil {
		return err
	}
	_, err := s.client.PutObject(ctx, &awss3.PutObjectInput{
		Bucket:        aws.String(s.bucket),
		Key:           aws.String(key),
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType),
	})
	if err != nil {
		return s.translate("put object", key, err)
	}
	return nil
}

// GetObject returns the object under key. A missing key is ENOTFOUND; a
// missing bucket is ENOTREADY, with ErrNoSuchBucket in the chain and a
// message that names the bucket and says to run `enricher setup`.
//
// On real AWS, a missing key reads as 403 AccessDenied, not 404, when the
// credentials lack s3:ListBucket on the bucket; that is reported as a
// permission error, not ENOTFOUND, so grant s3:ListBucket to the service.
func (s *Store) GetObject(ctx context.Context, key string) ([]byte, error) {
	if err := validKey(key); err != nil {
		return nil, err
	}
	out, err := s.client.GetObject(ctx, &awss3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(key),
	})
	if err != nil {
		return nil, s.translate("get object", key, err)
	}
	defer out.Body.Close()
	// ContentLength sizes the buffer in one allocation; the limit on the
	// read still holds if it is missing or wrong.
	size := max(aws.ToInt64(out.ContentLength), 0)
	if size > s.maxSize {
		return nil, s.tooLarge(key, size)
	}
	buf := bytes.NewBuffer(make([]byte, 0, size+bytes.MinRead))
	if _, err := buf.ReadFrom(io.LimitReader(out.Body, s.maxSize+1)); err != nil {
		return nil, fmt.Errorf("get object %q from bucket %q: read body: %w", key, s.bucket, err)
	}
	if int64(buf.Len()) > s.maxSize {
		return nil, s.tooLarge(key, int64(buf.Len()))
	}
	return buf.Bytes(), nil
}

func (s *Store) tooLarge(key string, n int64) error {
	return enricher.Errorf(enricher.ETOOLARGE, "get object %q from bucket %q: %d bytes or more, over the limit of %d", key, s.bucket, n, s.maxSize)
}

// translate turns an error of the S3 client into the service's codes.
func (s *Store) translate(op, key string, err error) error {
	switch errorCode(err) {
	case "NoSuchBucket":
		return noSuchBucket(fmt.Sprintf("%s %q", op, key), s.bucket, err)
	case "NoSuchKey", "NotFound":
		return enricher.Errorf(enricher.ENOTFOUND, "%s %q: no such object in bucket %q: %w", op, key, s.bucket, err)
	case "KeyTooLongError", "InvalidURI":
		return enricher.Errorf(enricher.EINVALID, "%s %q: S3 refuses the key: %w", op, key, err)
	case "EntityTooLarge":
		return enricher.Errorf(enricher.ETOOLARGE, "%s %q: S3 refuses the object: %w", op, key, err)
	}
	if httpStatus(err) == http.StatusNotFound {
		// Some S3 implementations answer a 404 without an error code.
		return enricher.Errorf(enricher.ENOTFOUND, "%s %q: not found in bucket %q: %w", op, key, s.bucket, err)
	}
	return fmt.Errorf("%s %q in bucket %q: %w", op, key, s.bucket, err)
}

// noSuchBucket is the error of every operation on a bucket that does not
// exist. It says how to fix it, since the usual cause is a deployment where
// `enricher setup` was never run, or a misspelled S3_BUCKET_* variable.
func noSuchBucket(what, bucket string, err error) error {
	return enricher.Errorf(enricher.ENOTREADY,
		"%s: %w %q (create it with `enricher setup`, or check S3_BUCKET_RAW / S3_BUCKET_ENRICHED): %w",
		what, ErrNoSuchBucket, bucket, err)
}

// errorCode returns the S3 error code of err ("NoSuchKey", ...), or "".
func errorCode(err error) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		return apiErr.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of the response that failed, or 0.
func httpStatus(err error) int {
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return respErr.HTTPStatusCode()
	}
	return 0
}

// validKey accepts the keys that S3 stores and that come back unchanged
// through HTTP. It refuses what S3 refuses (empty, over 1024 bytes, not
// UTF-8), control characters, which S3's XML listings cannot carry, and "."
// and ".." path segments, which HTTP clients, proxies and emulators may
// resolve away, so that the key written would not be the key asked for. The
// dir store refuses all of these too; unlike it, this store accepts a leading
// slash, empty segments and backslashes, which are plain characters of an S3
// key, so that objects put into the bucket by other S3 clients stay
// readable.
func validKey(key string) error {
	invalid := func(reason string) error {
		return enricher.Errorf(enricher.EINVALID, "invalid object key %q: %s", key, reason)
	}
	switch {
	case key == "":
		return invalid("empty")
	case len(key) > MaxKeyLength:
		return invalid(fmt.Sprintf("longer than %d bytes", MaxKeyLength))
	case !utf8.ValidString(key):
		return invalid("not valid UTF-8")
	case strings.ContainsFunc(key, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return invalid("contains a control character")
	}
	for seg := range strings.SplitSeq(key, "/") {
		if seg == "." || seg == ".." {
			return invalid(fmt.Sprintf("path segment %q", seg))
		}
	}
	return nil
}

// validBucket accepts the names S3 has ever allowed, the legacy us-east-1
// ones included (up to 255 characters of letters, digits, '.', '-', '_'),
// and refuses what would change the URL of a request. S3 itself enforces the
// stricter rules for new buckets when EnsureBucket creates one.
func validBucket(name string) error {
	invalid := func(reason string) error {
		return enricher.Errorf(enricher.EINVALID, "invalid bucket name %q: %s", name, reason)
	}
	if name == "" {
		return invalid("empty")
	}
	if len(name) > 255 {
		return invalid("longer than 255 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return invalid(fmt.Sprintf("character %q; use letters, digits, '.', '-'", r))
		}
	}
	return nil
}
