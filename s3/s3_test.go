package s3

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ticket-enricher/enricher"
	"github.com/ticket-enricher/enricher/awstest"
	"github.com/ticket-enricher/enricher/enrichertest"
)

// emulator is one moto server and an S3 client for it.
type emulator struct {
	srv    *awstest.Server
	cfg    aws.Config
	client *awss3.Client
	n      atomic.Int64
}

// startEmulator starts moto for the test; the clients use path-style
// addressing, as they must for an emulator on 127.0.0.1.
func startEmulator(t *testing.T) *emulator {
	t.Helper()
	srv := awstest.Start(t)
	cfg := srv.Config(t)
	return &emulator{srv: srv, cfg: cfg, client: NewClient(cfg, Options{UsePathStyle: true})}
}

// bucketName returns a bucket name not used before on this emulator.
func (e *emulator) bucketName(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, e.n.Add(1))
}

// MustStore returns a Store on a new, empty bucket.
func (e *emulator) MustStore(t *testing.T, opts Options) *Store {
	t.Helper()
	name := e.bucketName("store")
	created, err := EnsureBucket(context.Background(), e.client, name, awstest.Region)
	if err != nil || !created {
		t.Fatalf("EnsureBucket(%q): got created=%v, err=%v, want created, no error\n%s", name, created, err, e.srv.Logs())
	}
	opts.UsePathStyle = true
	s, err := New(e.cfg, name, opts)
	if err != nil {
		t.Fatalf("New(%q): %v", name, err)
	}
	return s
}

// TestStore runs the ObjectStore contract and the S3-specific behaviour
// against moto.
func TestStore(t *testing.T) {
	e := startEmulator(t)

	t.Run("Contract", func(t *testing.T) {
		enrichertest.TestObjectStore(t, func(t *testing.T) enricher.ObjectStore { return e.MustStore(t, Options{}) })
	})

	t.Run("NoSuchBucket", func(t *testing.T) {
		const bucket = "never-created"
		s, err := New(e.cfg, bucket, Options{UsePathStyle: true})
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		if got := s.Bucket(); got != bucket {
			t.Errorf("Bucket(): got %q, want %q", got, bucket)
		}
		ctx := context.Background()
		_, getErr := s.GetObject(ctx, "T-1.json")
		for op, err := range map[string]error{"GetObject": getErr, "PutObject": s.PutObject(ctx, "T-1.json", []byte("{}"))} {
			t.Run(op, func(t *testing.T) {
				enrichertest.MustCode(t, err, enricher.ENOTREADY)
				if !errors.Is(err, ErrNoSuchBucket) {
					t.Errorf("got %v, want ErrNoSuchBucket in the chain", err)
				}
				msg := enricher.ErrorMessage(err)
				for _, want := range []string{`"` + bucket + `"`, "enricher setup"} {
					if !strings.Contains(msg, want) {
						t.Errorf("got message %q, want it to contain %q", msg, want)
					}
				}
			})
		}
	})

	t.Run("Keys", func(t *testing.T) {
		s := e.MustStore(t, Options{})
		ctx := context.Background()
		valid := []string{
			"a b+c.json",
			"tickets-raw/T 1+2.json",
			"unicode/é€😀.json",
			"/leading-slash.json",
			"double//slash.json",
			"trailing-slash/",
			`back\slash.json`,
			"percent%2Fslash%20.json",
			"query?x=1&y=2#frag.json",
			"..dots../.hidden",
			strings.Repeat("k", MaxKeyLength),
		}
		for _, key := range valid {
			t.Run("valid "+clipKey(key), func(t *testing.T) {
				data := []byte("data of " + key)
				enrichertest.MustNoError(t, s.PutObject(ctx, key, data), "put")
				got, err := s.GetObject(ctx, key)
				enrichertest.MustNoError(t, err, "get")
				if !bytes.Equal(got, data) {
					t.Errorf("get %q: got %q, want %q", key, got, data)
				}
			})
		}
		// Keys that differ only where a careless client would normalize
		// must stay distinct objects.
		enrichertest.MustNoError(t, s.PutObject(ctx, "slash.json", []byte("no slash")), "put slash.json")
		if got, err := s.GetObject(ctx, "/leading-slash.json"); err != nil || string(got) != "data of /leading-slash.json" {
			t.Errorf("get /leading-slash.json: got %q, %v, want its own data", got, err)
		}
		if _, err := s.GetObject(ctx, "leading-slash.json"); enricher.ErrorCode(err) != enricher.ENOTFOUND {
			t.Errorf("get leading-slash.json: got %v, want ENOTFOUND (a different key from /leading-slash.json)", err)
		}

		invalid := []struct{ name, key string }{
			{"empty", ""},
			{"too long", strings.Repeat("k", MaxKeyLength+1)},
			{"not UTF-8", "bad-\xff.json"},
			{"NUL", "a\x00b.json"},
			{"newline", "a\nb.json"},
			{"DEL", "a\x7fb.json"},
			{"dot-dot segment", "tickets-raw/../T-1.json"},
			{"leading dot-dot", "../T-1.json"},
			{"dot segment", "tickets-raw/./T-1.json"},
			{"only dot", "."},
		}
		for _, tt := range invalid {
			t.Run("invalid "+tt.name, func(t *testing.T) {
				enrichertest.MustCode(t, s.PutObject(ctx, tt.key, []byte("x")), enricher.EINVALID)
				_, err := s.GetObject(ctx, tt.key)
				enrichertest.MustCode(t, err, enricher.EINVALID)
			})
		}
	})

	t.Run("ContentType", func(t *testing.T) {
		s := e.MustStore(t, Options{})
		ctx := context.Background()
		enrichertest.MustNoError(t, s.PutObject(ctx, "T-1.json", []byte(`{"ticket_id":"T-1"}`)), "put")
		out, err := e.client.HeadObject(ctx, &awss3.HeadObjectInput{Bucket: aws.String(s.Bucket()), Key: aws.String("T-1.json")})
		if err != nil {
			t.Fatalf("HeadObject: %v", err)
		}
		if got := aws.ToString(out.ContentType); got != "application/json" {
			t.Errorf("Content-Type: got %q, want %q", got, "application/json")
		}
	})

	t.Run("MaxObjectSize", func(t *testing.T) {
		s := e.MustStore(t, Options{MaxObjectSize: 10})
		ctx := context.Background()
		tests := []struct {
			size     int
			wantCode string
		}{
			{0, ""},
			{10, ""},
			{11, enricher.ETOOLARGE},
			{1 << 20, enricher.ETOOLARGE},
		}
		for _, tt := range tests {
			t.Run(fmt.Sprint(tt.size), func(t *testing.T) {
				key := fmt.Sprintf("size-%d", tt.size)
				data := bytes.Repeat([]byte("x"), tt.size)
				enrichertest.MustNoError(t, s.PutObject(ctx, key, data), "put")
				got, err := s.GetObject(ctx, key)
				if tt.wantCode != "" {
					enrichertest.MustCode(t, err, tt.wantCode)
					if got != nil {
						t.Errorf("got %d bytes with the error, want none", len(got))
					}
					return
				}
				enrichertest.MustNoError(t, err, "get")
				if !bytes.Equal(got, data) {
					t.Errorf("got %d bytes, want %d", len(got), len(data))
				}
			})
		}
	})

	t.Run("Canceled", func(t *testing.T) {
		s := e.MustStore(t, Options{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.PutObject(ctx, "T-1.json", []byte("{}")); !errors.Is(err, context.Canceled) {
			t.Errorf("PutObject with a canceled context: got %v, want context.Canceled in the chain", err)
		}
		if _, err := s.GetObject(ctx, "T-1.json"); !errors.Is(err, context.Canceled) {
			t.Errorf("GetObject with a canceled context: got %v, want context.Canceled in the chain", err)
		}
	})
}

func clipKey(key string) string {
	if len(key) > 30 {
		return fmt.Sprintf("%s...(%d bytes)", key[:20], len(key))
	}
	return key
}

func TestNew(t *testing.T) {
	cfg := aws.Config{Region: awstest.Region}
	tests := []struct {
		name     string
		bucket   string
		opts     Options
		wantCode string
	}{
		{"plain", "tickets-raw", Options{}, ""},
		{"dots", "tickets.raw.example", Options{UsePathStyle: true}, ""},
		{"legacy us-east-1 name", "Legacy_Bucket", Options{}, ""},
		{"empty", "", Options{}, enricher.EINVALID},
		{"slash", "tickets/raw", Options{}, enricher.EINVALID},
		{"space", "tickets raw", Options{}, enricher.EINVALID},
		{"too long", strings.Repeat("b", 256), Options{}, enricher.EINVALID},
		{"negative max size", "tickets-raw", Options{MaxObjectSize: -1}, enricher.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(cfg, tt.bucket, tt.opts)
			if tt.wantCode != "" {
				enrichertest.MustCode(t, err, tt.wantCode)
				if s != nil {
					t.Errorf("got a store with the error, want nil")
				}
				return
			}
			enrichertest.MustNoError(t, err, "New")
			if got := s.Bucket(); got != tt.bucket {
				t.Errorf("Bucket(): got %q, want %q", got, tt.bucket)
			}
		})
	}
}

// apiError returns an error shaped as the SDK returns a failed S3 call: an
// operation error around a response error around the API error.
func apiError(status int, code string) error {
	var err error = &smithy.GenericAPIError{Code: code, Message: "test"}
	if code == "NoSuchKey" {
		err = &types.NoSuchKey{Message: aws.String("test")}
	}
	if code == "" {
		err = errors.New("http response without an error code")
	}
	resp := &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
		Err:      err,
	}}
	return &smithy.OperationError{ServiceID: "S3", OperationName: "GetObject", Err: resp}
}

func TestStore_translate(t *testing.T) {
	s := newStore(nil, "bucket", Options{})
	tests := []struct {
		name     string
		err      error
		wantCode string
		noBucket bool
	}{
		{"NoSuchKey", apiError(404, "NoSuchKey"), enricher.ENOTFOUND, false},
		{"NotFound", apiError(404, "NotFound"), enricher.ENOTFOUND, false},
		{"404 without a code", apiError(404, ""), enricher.ENOTFOUND, false},
		{"NoSuchBucket", apiError(404, "NoSuchBucket"), enricher.ENOTREADY, true},
		{"KeyTooLongError", apiError(400, "KeyTooLongError"), enricher.EINVALID, false},
		{"EntityTooLarge", apiError(400, "EntityTooLarge"), enricher.ETOOLARGE, false},
		{"AccessDenied", apiError(403, "AccessDenied"), enricher.EINTERNAL, false},
		{"SlowDown after retries", apiError(503, "SlowDown"), enricher.EINTERNAL, false},
		{"InternalError", apiError(500, "InternalError"), enricher.EINTERNAL, false},
		{"network", errors.New("connection reset by peer"), enricher.EINTERNAL, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.translate("get object", "T-1.json", tt.err)
			if got := enricher.ErrorCode(err); got != tt.wantCode {
				t.Errorf("code: got %q (%v), want %q", got, err, tt.wantCode)
			}
			if !errors.Is(err, tt.err) {
				t.Errorf("got %v, want the SDK error kept in the chain", err)
			}
			if got := errors.Is(err, ErrNoSuchBucket); got != tt.noBucket {
				t.Errorf("errors.Is(err, ErrNoSuchBucket): got %v, want %v", got, tt.noBucket)
			}
			if !strings.Contains(err.Error(), `"T-1.json"`) {
				t.Errorf("got %q, want the key in the message", err)
			}
		})
	}
}
