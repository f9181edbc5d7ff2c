package ddbfault

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Fault is what happens to one counting write.
type Fault int

const (
	// Pass forwards the write and its answer.
	Pass Fault = iota
	// LoseAnswer forwards the write, so dynalite applies it, and never
	// answers: the caller times out.
	LoseAnswer
	// Hold keeps the write until its caller has given up and withdrawn it
	// (a withdrawal of its ticket succeeded; for a write with no ticket,
	// HoldLimit), then forwards it: a write that DynamoDB applies after its
	// caller answered 503.
	Hold
	// Interleave keeps the write until its caller gave up and its
	// withdrawal's first undo was refused (the write had not applied), then
	// lets it land just before the withdrawal's fence: the order a
	// withdrawal must survive by undoing again.
	Interleave
)

// HoldLimit bounds how long a held write waits for its withdrawal; it is
// forwarded then anyway, and counted in Stats.HeldUnwithdrawn.
const HoldLimit = 20 * time.Second

// Stats counts what the proxy did.
type Stats struct {
	// CountingWrites counts the counting writes sent, down or not.
	CountingWrites int64
	LostAnswers    int64
	// HeldRefused counts held writes that dynalite refused when they came
	// after their withdrawal, HeldApplied those it applied.
	HeldRefused, HeldApplied int64
	HeldUnwithdrawn          int64
	// Withdrawals counts withdrawal writes that applied.
	Withdrawals int64
	// Refused counts the requests answered 500 while down.
	Refused int64
}

// Proxy is an http.Handler forwarding DynamoDB's JSON protocol to dynalite.
type Proxy struct {
	target *url.URL
	client *http.Client
	// decide chooses the fault of the n-th counting write (from 0), on the
	// item whose partition key is pk.
	decide func(n int64, pk string) Fault

	down    atomic.Bool
	delay   atomic.Int64 // nanoseconds
	counter atomic.Int64
	stats   struct {
		lost, heldRefused, heldApplied, unwithdrawn, withdrawals, refused atomic.Int64
	}
	held sync.WaitGroup

	mu          sync.Mutex
	withdrawn   map[ticket]chan struct{}
	interleaved map[ticket]*interleaving
}

// interleaving is a write held for Interleave: fenced is closed when its
// withdrawal's fence arrives, landed when the write has been applied.
type interleaving struct {
	fenced, landed chan struct{}
	once           sync.Once
}

// ticket is a counting write's ticket as it travels: the attribute name
// (t_<writer>) and the sequence number.
type ticket struct{ attr, seq string }

// New returns a Proxy to dynalite at target; decide chooses each counting
// write's fault (nil: Pass).
func New(target string, decide func(n int64, pk string) Fault) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	if decide == nil {
		decide = func(int64, string) Fault { return Pass }
	}
	return &Proxy{target: u, client: &http.Client{}, decide: decide, withdrawn: map[ticket]chan struct{}{},
		interleaved: map[ticket]*interleaving{}}, nil
}

// SetDown makes every request fail with a 500 InternalServerError (which
// the SDK retries, then reports) until SetDown(false).
func (p *Proxy) SetDown(down bool) { p.down.Store(down) }

// SetDelay makes every request wait d before it is forwarded: a DynamoDB
// that is slow but answers.
func (p *Proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Drain waits until every held write has been forwarded and answered.
func (p *Proxy) Drain() { p.held.Wait() }

// Stats returns what the proxy did so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		CountingWrites: p.counter.Load(), LostAnswers: p.stats.lost.Load(),
		HeldRefused: p.stats.heldRefused.Load(), HeldApplied: p.stats.heldApplied.Load(),
		HeldUnwithdrawn: p.stats.unwithdrawn.Load(), Withdrawals: p.stats.withdrawals.Load(),
		Refused: p.stats.refused.Load(),
	}
}

// request is what the proxy reads of an UpdateItem.
type request struct {
	Update    string                                `json:"UpdateExpression"`
	Condition string                                `json:"ConditionExpression"`
	Key       map[string]map[string]string          `json:"Key"`
	Names     map[string]string                     `json:"ExpressionAttributeNames"`
	Values    map[string]map[string]json.RawMessage `json:"ExpressionAttributeValues"`
}

func (r request) ticket() (ticket, bool) {
	attr, ok := r.Names["#tk"]
	v, ok2 := r.Values[":tk"]["N"]
	if !ok || !ok2 {
		return ticket{}, false
	}
	var seq string
	if json.Unmarshal(v, &seq) != nil {
		return ticket{}, false
	}
	return ticket{attr: attr, seq: seq}, true
}

// ServeHTTP forwards one request, with the fault chosen for it.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client left; nothing was forwarded
	}
	var req request
	isUpdate := strings.HasSuffix(r.Header.Get("X-Amz-Target"), ".UpdateItem")
	if isUpdate {
		_ = json.Unmarshal(body, &req)
	}
	// A counting write adds one to the current minute's counter (#cm), with
	// a ticket or, before tickets, without one. Every attempt is counted,
	// even one refused while down.
	t, ticketed := req.ticket()
	counting := strings.Contains(req.Update, "#cm :one")
	var n int64
	if counting {
		n = p.counter.Add(1) - 1
	}
	if d := p.delay.Load(); d > 0 {
		time.Sleep(time.Duration(d))
	}
	if p.down.Load() {
		p.stats.refused.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"ddbfault: down"}`))
		return
	}
	_, withdrawal := req.Values[":done"]
	switch {
	case counting:
		p.counting(w, r, body, n, req.Key["pk"]["S"], t, ticketed)
	case ticketed && withdrawal:
		if strings.Contains(req.Condition, "attribute_not_exists(#tk)") { // the fence
			p.letInterleavedLand(t)
		}
		status := p.forward(w, r, body)
		if status == http.StatusOK {
			p.stats.withdrawals.Add(1)
			p.markWithdrawn(t)
		}
	default:
		p.forward(w, r, body)
	}
}

func (p *Proxy) counting(w http.ResponseWriter, r *http.Request, body []byte, n int64, pk string, t ticket, ticketed bool) {
	switch p.decide(n, pk) {
	case LoseAnswer:
		p.send(context.WithoutCancel(r.Context()), r, body) // applied
		p.stats.lost.Add(1)
		<-r.Context().Done() // the caller gives up: no answer
	case Hold:
		p.held.Add(1)
		defer p.held.Done()
		<-r.Context().Done()
		withdrawn := make(chan struct{})
		if ticketed {
			withdrawn = p.withdrawal(t)
		}
		select {
		case <-withdrawn:
		case <-time.After(HoldLimit):
			p.stats.unwithdrawn.Add(1)
		}
		resp, err := p.send(context.Background(), r, body)
		if err != nil {
			return
		}
		if resp.status == http.StatusOK {
			p.stats.heldApplied.Add(1)
		} else if bytes.Contains(resp.body, []byte("ConditionalCheckFailed")) {
			p.stats.heldRefused.Add(1)
		}
	case Interleave:
		p.held.Add(1)
		defer p.held.Done()
		il := &interleaving{fenced: make(chan struct{}), landed: make(chan struct{})}
		p.mu.Lock()
		p.interleaved[t] = il
		p.mu.Unlock()
		<-r.Context().Done()
		select {
		case <-il.fenced:
		case <-time.After(HoldLimit):
			p.stats.unwithdrawn.Add(1)
		}
		if resp, err := p.send(context.Background(), r, body); err == nil && resp.status == http.StatusOK {
			p.stats.heldApplied.Add(1)
		}
		close(il.landed)
	default:
		p.forward(w, r, body)
	}
}

// letInterleavedLand, called when the fence of ticket t arrives, applies
// the write held for it (if one is) before the fence goes on.
func (p *Proxy) letInterleavedLand(t ticket) {
	p.mu.Lock()
	il := p.interleaved[t]
	p.mu.Unlock()
	if il == nil {
		return
	}
	il.once.Do(func() { close(il.fenced) })
	select {
	case <-il.landed:
	case <-time.After(HoldLimit):
	}
}

// withdrawal is closed once a withdrawal of t has applied.
func (p *Proxy) withdrawal(t ticket) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.withdrawn[t]
	if !ok {
		c = make(chan struct{})
		p.withdrawn[t] = c
	}
	return c
}

func (p *Proxy) markWithdrawn(t ticket) {
	c := p.withdrawal(t)
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-c:
	default:
		close(c)
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// send forwards body to dynalite with ctx, which outlives the caller's
// when the caller is to be left waiting: dynalite must always get a whole
// request.
func (p *Proxy) send(ctx context.Context, r *http.Request, body []byte) (response, error) {
	out, err := http.NewRequestWithContext(ctx, http.MethodPost, p.target.String()+r.URL.Path, bytes.NewReader(body))
	if err != nil {
		return response{}, err
	}
	for _, h := range []string{"Content-Type", "X-Amz-Target", "Authorization", "X-Amz-Date"} {
		if v := r.Header.Get(h); v != "" {
			out.Header.Set(h, v)
		}
	}
	resp, err := p.client.Do(out)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}, err
}

// forward sends the request on and relays the answer; it returns the
// answer's status (0 if there was none).
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, body []byte) int {
	resp, err := p.send(context.WithoutCancel(r.Context()), r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return 0
	}
	for k, v := range resp.header {
		w.Header()[k] = v
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(resp.body)))
	w.WriteHeader(resp.status)
	_, _ = w.Write(resp.body)
	return resp.status
}

var _ http.Handler = (*Proxy)(nil)

// KeyWritesMixed is a decide function for New: while on is true, of the
// counting writes on keys' items, the second of every four loses its
// answer and the fourth is held; other writes, and all while on is false,
// pass. Workspaces' writes carry no ticket, so they always pass.
func KeyWritesMixed(on *atomic.Bool) func(n int64, pk string) Fault {
	return func(n int64, pk string) Fault {
		switch {
		case !on.Load() || !strings.HasPrefix(pk, "key#"):
			return Pass
		case n%4 == 1:
			return LoseAnswer
		case n%4 == 3:
			return Hold
		}
		return Pass
	}
}
