package ddbthrottle

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Default time-scaled rates: a tenth of a DynamoDB partition's.
const (
	DefaultWriteUnitsPerSecond = 100
	DefaultReadUnitsPerSecond  = 300
)

// Config configures a Shim.
type Config struct {
	// Target is dynalite's endpoint, e.g. http://127.0.0.1:8000.
	Target string
	// PartitionKeys names each table's partition key attribute; requests to
	// other tables pass through uncharged.
	PartitionKeys map[string]string
	// WriteUnitsPerSecond and ReadUnitsPerSecond are each partition key's
	// rates; zero means the defaults.
	WriteUnitsPerSecond, ReadUnitsPerSecond float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Shim is an http.Handler that forwards DynamoDB's JSON protocol to Target
// and throttles each partition key past its rate.
type Shim struct {
	cfg   Config
	proxy *httputil.ReverseProxy

	mu      sync.Mutex
	buckets map[bucketKey]*bucket

	throttled atomic.Int64
}

type bucketKey struct {
	table, partition string
	write            bool
}

// bucket holds a partition's unused units; it refills at the rate, up to one
// second's worth, and may go into debt when an operation costs more than it
// reserved. A partition in debt is refused until it refills.
type bucket struct {
	units float64
	at    time.Time
}

// New returns a Shim.
func New(cfg Config) (*Shim, error) {
	target, err := url.Parse(cfg.Target)
	if err != nil || target.Host == "" {
		return nil, fmt.Errorf("ddbthrottle: target %q is not a URL", cfg.Target)
	}
	if cfg.WriteUnitsPerSecond == 0 {
		cfg.WriteUnitsPerSecond = DefaultWriteUnitsPerSecond
	}
	if cfg.ReadUnitsPerSecond == 0 {
		cfg.ReadUnitsPerSecond = DefaultReadUnitsPerSecond
	}
	if cfg.WriteUnitsPerSecond < 0 || cfg.ReadUnitsPerSecond < 0 {
		return nil, errors.New("ddbthrottle: rates must be positive")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Shim{cfg: cfg, proxy: httputil.NewSingleHostReverseProxy(target), buckets: map[bucketKey]*bucket{}}, nil
}

// Throttled counts the requests refused so far.
func (s *Shim) Throttled() int64 { return s.throttled.Load() }

// Operations on one item, which the shim charges to that item's partition.
var itemOperations = map[string]bool{"GetItem": true, "PutItem": true, "UpdateItem": true, "DeleteItem": true}

// ServeHTTP forwards one request, charging the item operations to their
// partition key. Everything else (tables, queries, batches) passes through
// uncharged: the gateway's hot path is single-item writes.
func (s *Shim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "DynamoDB_20120810.")
	if !itemOperations[op] {
		s.proxy.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "read request", http.StatusBadRequest)
		return
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil {
		s.forward(w, r, body) // let dynalite answer the malformed request
		return
	}
	key, ok := s.partition(op, req)
	if !ok {
		s.forward(w, r, body)
		return
	}
	if !s.reserve(key) {
		s.throttled.Add(1)
		throttle(w)
		return
	}
	asked := req["ReturnConsumedCapacity"] != nil && string(req["ReturnConsumedCapacity"]) != `"NONE"`
	if !asked {
		req["ReturnConsumedCapacity"] = json.RawMessage(`"TOTAL"`)
		body, _ = json.Marshal(req)
	}
	rec := &recorder{header: http.Header{}, status: http.StatusOK}
	s.forward(rec, r, body)
	units := consumed(rec.body.Bytes())
	s.charge(key, units-1) // one unit was reserved
	out := rec.body.Bytes()
	if !asked {
		out = withoutConsumedCapacity(out)
	}
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.Header().Del("X-Amz-Crc32") // the body may have changed; the SDK checks it only when present
	w.WriteHeader(rec.status)
	_, _ = w.Write(out)
}

func (s *Shim) forward(w http.ResponseWriter, r *http.Request, body []byte) {
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.Header.Set("Content-Length", strconv.Itoa(len(body)))
	s.proxy.ServeHTTP(w, r)
}

// partition finds the table and partition key value an item operation
// touches.
func (s *Shim) partition(op string, req map[string]json.RawMessage) (bucketKey, bool) {
	var table string
	if err := json.Unmarshal(req["TableName"], &table); err != nil {
		return bucketKey{}, false
	}
	attr, ok := s.cfg.PartitionKeys[table]
	if !ok {
		return bucketKey{}, false
	}
	field := "Key"
	if op == "PutItem" {
		field = "Item"
	}
	var item map[string]json.RawMessage
	if err := json.Unmarshal(req[field], &item); err != nil || item[attr] == nil {
		return bucketKey{}, false
	}
	return bucketKey{table: table, partition: string(item[attr]), write: op != "GetItem"}, true
}

// reserve takes one unit from the partition's bucket, refusing when it is
// empty or in debt.
func (s *Shim) reserve(k bucketKey) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.refill(k)
	if b.units < 1 {
		return false
	}
	b.units--
	return true
}

// charge takes what an operation cost beyond its reservation (or gives back
// what it cost less).
func (s *Shim) charge(k bucketKey, units float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refill(k).units -= units
}

// refill brings a bucket up to now. Called with mu held.
func (s *Shim) refill(k bucketKey) *bucket {
	rate := s.cfg.ReadUnitsPerSecond
	if k.write {
		rate = s.cfg.WriteUnitsPerSecond
	}
	now := s.cfg.Now()
	b, ok := s.buckets[k]
	if !ok {
		b = &bucket{units: rate, at: now}
		s.buckets[k] = b
		return b
	}
	b.units = math.Min(rate, b.units+now.Sub(b.at).Seconds()*rate)
	b.at = now
	return b
}

// consumed reads the capacity units an answer reports; an answer without
// them (a failed condition, an error) costs one unit, as DynamoDB bills a
// refused conditional write.
func consumed(body []byte) float64 {
	var out struct {
		ConsumedCapacity *struct{ CapacityUnits float64 }
	}
	if json.Unmarshal(body, &out) != nil || out.ConsumedCapacity == nil || out.ConsumedCapacity.CapacityUnits <= 0 {
		return 1
	}
	return out.ConsumedCapacity.CapacityUnits
}

// withoutConsumedCapacity removes the capacity the shim asked for from an
// answer whose caller did not.
func withoutConsumedCapacity(body []byte) []byte {
	var out map[string]json.RawMessage
	if json.Unmarshal(body, &out) != nil || out["ConsumedCapacity"] == nil {
		return body
	}
	delete(out, "ConsumedCapacity")
	b, err := json.Marshal(out)
	if err != nil {
		return body
	}
	return b
}

// throttle answers as DynamoDB does when a partition's throughput is
// exceeded.
func throttle(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",`+
		`"message":"The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API."}`)
}

// recorder keeps a forwarded answer, so the shim can read and adjust it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) WriteHeader(status int)      { r.status = status }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
