package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	awsdynamodb "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	awssqs "github.com/aws/aws-sdk-go-v2/service/sqs"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ticket-enricher/enricher/awstest"
)

// Kinds of fault the proxy injects.
const (
	faultServerError = "server_error" // 500 with the service's error body
	faultThrottle    = "throttle"     // the service's throttling error
	faultDropBefore  = "drop_before"  // connection closed before the request reaches the emulator
	faultDropAfter   = "drop_after"   // the emulator handled the request; its response is lost
	faultLatency     = "latency"      // delayed, then forwarded normally
)

// faultKinds are chosen from uniformly for a faulty request.
var faultKinds = []string{faultServerError, faultThrottle, faultDropBefore, faultDropAfter, faultLatency}

// faultProxy is an HTTP reverse proxy between an AWS client and the
// emulator that fails a share of the requests the way AWS does: 5xx with
// AWS-shaped bodies, throttling errors the SDK's retryer classifies as
// throttles, connections dropped before or after the emulator saw the
// request, and latency. A seeded generator picks the faults, so a run's
// schedule is reproducible up to the order in which requests arrive.
//
// Dropping a response after the emulator handled the request is what makes
// retries interesting: the SDK resends a write that already happened, and
// a ReceiveMessage whose messages the client never saw leaves them hidden
// until their visibility timeout, after which they are delivered again.
type faultProxy struct {
	URL string

	rate  float64
	kinds []string
	proxy *httputil.ReverseProxy

	mu       sync.Mutex
	rng      *rand.Rand
	requests int
	retries  int            // requests the SDK marked as a retry (amz-sdk-request: attempt>1)
	faults   map[string]int // by kind
	byTarget map[string]int // "service kind" -> count, for the log
}

// startFaultProxy proxies to target, injecting a fault into rate of the
// requests (0 to 1), chosen by a generator seeded with seed among kinds (all
// of faultKinds when none are given). It stops when the test ends.
func startFaultProxy(t *testing.T, target string, rate float64, seed uint64, kinds ...string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatalf("fault proxy target %q: %v", target, err)
	}
	if len(kinds) == 0 {
		kinds = faultKinds
	}
	p := &faultProxy{
		rate:     rate,
		kinds:    kinds,
		rng:      rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		faults:   map[string]int{},
		byTarget: map[string]int{},
		proxy:    httputil.NewSingleHostReverseProxy(u),
	}
	p.proxy.ErrorLog = log.New(io.Discard, "", 0) // a client gone during a fault is expected
	// The Host header stays the proxy's: the SDK signed the request for
	// it, and moto routes by path and headers, not by host.
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// sdkAttempt reads the attempt number the SDK puts on every request:
// "amz-sdk-request: attempt=2; max=8".
var sdkAttempt = regexp.MustCompile(`attempt=(\d+)`)

// decide picks the fault of one request ("" for none) and a latency.
func (p *faultProxy) decide(r *http.Request, service string) (kind string, delay time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	if m := sdkAttempt.FindStringSubmatch(r.Header.Get("Amz-Sdk-Request")); m != nil && m[1] != "1" {
		p.retries++
	}
	if p.rng.Float64() >= p.rate {
		return "", 0
	}
	kind = p.kinds[p.rng.IntN(len(p.kinds))]
	p.faults[kind]++
	p.byTarget[service+" "+kind]++
	return kind, time.Duration(50+p.rng.IntN(200)) * time.Millisecond
}

// Counts returns how many requests the proxy saw, how many of them were
// retries, and the faults it injected by kind.
func (p *faultProxy) Counts() (requests, retries int, faults map[string]int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	faults = make(map[string]int, len(p.faults))
	for k, v := range p.faults {
		faults[k] = v
	}
	return p.requests, p.retries, faults
}

// String summarizes the injected faults by service, for the test log.
func (p *faultProxy) String() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	keys := make([]string, 0, len(p.byTarget))
	for k := range p.byTarget {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	fmt.Fprintf(&b, "%d requests, %d of them retries; faults:", p.requests, p.retries)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%d", k, p.byTarget[k])
	}
	return b.String()
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	service := awsService(r)
	kind, delay := p.decide(r, service)
	switch kind {
	case "":
		p.proxy.ServeHTTP(w, r)
	case faultLatency:
		time.Sleep(delay)
		p.proxy.ServeHTTP(w, r)
	case faultServerError, faultThrottle:
		io.Copy(io.Discard, r.Body) // as a server that read the request would
		writeAWSError(w, r, service, kind == faultThrottle)
	case faultDropBefore:
		dropConnection(w)
	case faultDropAfter:
		// Let the emulator handle the request in full, then lose the answer.
		p.proxy.ServeHTTP(httptest.NewRecorder(), r)
		dropConnection(w)
	}
}

// dropConnection closes the client's connection without a response, with a
// TCP reset where possible, as a load balancer or a crashed node would.
func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fault proxy: the response writer cannot be hijacked")
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

// credentialScope finds the service in a SigV4 Authorization header:
// Credential=AKID/DATE/REGION/SERVICE/aws4_request.
var credentialScope = regexp.MustCompile(`Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request`)

// awsService names the service a signed request is for: s3, sqs, dynamodb.
func awsService(r *http.Request) string {
	if m := credentialScope.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	switch target := r.Header.Get("X-Amz-Target"); {
	case strings.HasPrefix(target, "AmazonSQS."):
		return "sqs"
	case strings.HasPrefix(target, "DynamoDB_"):
		return "dynamodb"
	}
	return "s3"
}

// writeAWSError answers as the service does when it fails or throttles, in
// the shape its protocol uses, so that the SDK parses a real error code:
//   - S3 (REST-XML): 500 InternalError, or 503 SlowDown;
//   - DynamoDB (JSON 1.0): 500 InternalServerError, or 400
//     ProvisionedThroughputExceededException;
//   - SQS (JSON 1.0, query-compatible: the x-amzn-query-error header carries
//     the query protocol's code): 500 InternalError, or 400 RequestThrottled.
//
// The retryer retries 500 and 503 by status, and the throttling codes by
// name (retry.DefaultThrottleErrorCodes), with its throttling backoff.
func writeAWSError(w http.ResponseWriter, r *http.Request, service string, throttle bool) {
	h := w.Header()
	h.Set("X-Amzn-Requestid", "fault-proxy")
	switch service {
	case "dynamodb":
		code, status, msg := "InternalServerError", http.StatusInternalServerError, "Internal server error"
		if throttle {
			code, status, msg = "ProvisionedThroughputExceededException", http.StatusBadRequest,
				"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."
		}
		h.Set("Content-Type", "application/x-amz-json-1.0")
		h.Set("X-Amzn-Errortype", code)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.dynamodb.v20120810#%s","message":%q}`, code, msg)
	case "sqs":
		code, status, fault, msg := "InternalError", http.StatusInternalServerError, "Receiver", "We encountered an internal error. Please try again."
		if throttle {
			code, status, fault, msg = "RequestThrottled", http.StatusBadRequest, "Sender", "Rate exceeded"
		}
		h.Set("Content-Type", "application/x-amz-json-1.0")
		h.Set("X-Amzn-Query-Error", code+";"+fault)
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"__type":"com.amazonaws.sqs#%s","message":%q}`, code, msg)
	default: // s3
		code, status, msg := "InternalError", http.StatusInternalServerError, "We encountered an internal error. Please try again."
		if throttle {
			code, status, msg = "SlowDown", http.StatusServiceUnavailable, "Please reduce your request rate."
		}
		h.Set("Content-Type", "application/xml")
		h.Set("X-Amz-Request-Id", "fault-proxy")
		w.WriteHeader(status)
		if r.Method != http.MethodHead { // HEAD answers carry no body
			fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+
				`<Error><Code>%s</Code><Message>%s</Message><RequestId>fault-proxy</RequestId><HostId>fault-proxy</HostId></Error>`, code, msg)
		}
	}
}

// TestFaultProxy_Errors checks that each fault the proxy injects is, to
// aws-sdk-go-v2, what the proxy means it to be: a retryable error, and a
// throttle where it plays one, so that the integration test exercises the
// SDK's retries rather than failing on errors the SDK would give up on.
func TestFaultProxy_Errors(t *testing.T) {
	// The emulator stand-in answers every request that gets through; the
	// proxy fails them all.
	var reached atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		io.WriteString(w, "{}")
	}))
	defer backend.Close()

	calls := map[string]func(ctx context.Context, cfg aws.Config) error{
		"s3": func(ctx context.Context, cfg aws.Config) error {
			_, err := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true }).
				GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("k.json")})
			return err
		},
		"s3-head": func(ctx context.Context, cfg aws.Config) error {
			_, err := awss3.NewFromConfig(cfg, func(o *awss3.Options) { o.UsePathStyle = true }).
				HeadBucket(ctx, &awss3.HeadBucketInput{Bucket: aws.String("b")})
			return err
		},
		"sqs": func(ctx context.Context, cfg aws.Config) error {
			_, err := awssqs.NewFromConfig(cfg).GetQueueUrl(ctx, &awssqs.GetQueueUrlInput{QueueName: aws.String("q")})
			return err
		},
		"dynamodb": func(ctx context.Context, cfg aws.Config) error {
			_, err := awsdynamodb.NewFromConfig(cfg).PutItem(ctx, &awsdynamodb.PutItemInput{TableName: aws.String("t"),
				Item: map[string]ddbtypes.AttributeValue{"ticket_id": &ddbtypes.AttributeValueMemberS{Value: "T1"}}})
			return err
		},
	}
	tests := []struct {
		kind        string
		throttle    bool
		wantStatus  []int // HTTP status of the error; none for a dropped connection
		wantReached int64 // requests that reached the emulator
	}{
		{faultServerError, false, []int{500}, 0},
		{faultThrottle, true, []int{400, 503}, 0},
		{faultDropBefore, false, nil, 0},
		{faultDropAfter, false, nil, 1},
	}
	retryable := retry.IsErrorRetryables(retry.DefaultRetryables)
	throttle := retry.IsErrorThrottles(retry.DefaultThrottles)
	for _, tt := range tests {
		for name, call := range calls {
			t.Run(tt.kind+"/"+name, func(t *testing.T) {
				proxy := startFaultProxy(t, backend.URL, 1, 1, tt.kind)
				cfg := aws.Config{
					Region:       awstest.Region,
					BaseEndpoint: aws.String(proxy.URL),
					Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
					Retryer:      func() aws.Retryer { return aws.NopRetryer{} },
				}
				before := reached.Load()
				err := call(context.Background(), cfg)
				if got := reached.Load() - before; got != tt.wantReached {
					t.Errorf("%d requests reached the emulator, want %d", got, tt.wantReached)
				}
				if err == nil {
					t.Fatalf("got no error through a proxy injecting %s, want one", tt.kind)
				}
				if got := retryable.IsErrorRetryable(err); got != aws.TrueTernary {
					t.Errorf("retryable = %v for %v, want true", got, err)
				}
				// A HEAD answer has no body, so S3's SlowDown reads as a
				// plain 503 there (retried by status, without the
				// throttling backoff), as it does from S3 itself.
				wantThrottle := tt.throttle && name != "s3-head"
				if got := throttle.IsErrorThrottle(err) == aws.TrueTernary; got != wantThrottle {
					t.Errorf("throttle = %v for %v, want %v", got, err, wantThrottle)
				}
				var (
					re   *awshttp.ResponseError
					sent *smithyhttp.RequestSendError
				)
				switch {
				case tt.wantStatus == nil && !errors.As(err, &sent):
					t.Errorf("got %v, want a dropped connection (a request send error)", err)
				case tt.wantStatus != nil && (!errors.As(err, &re) || !slices.Contains(tt.wantStatus, re.HTTPStatusCode())):
					t.Errorf("got %v, want an HTTP response with status in %v", err, tt.wantStatus)
				}
				if _, _, faults := proxy.Counts(); faults[tt.kind] != 1 {
					t.Errorf("proxy counted faults %v, want one %s", faults, tt.kind)
				}
			})
		}
	}
}
