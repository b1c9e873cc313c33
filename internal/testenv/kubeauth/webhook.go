package kubeauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
)

// Identity is who a token stands for, as the webhook tells kube-apiserver.
type Identity struct {
	Username string
	UID      string
	Groups   []string
	Extra    map[string][]string
}

// ErrNotMine is what an Authenticator returns for a token it does not
// recognise at all (another cloud's), so the next one is asked.
var ErrNotMine = errors.New("not this authenticator's token")

// Authenticator checks one kind of token.
type Authenticator interface {
	// Name names the authenticator in Reviews ("eks", "gke", "aks").
	Name() string
	// Authenticate returns the identity of a valid token, ErrNotMine for
	// a token of another kind, or why it refuses the token.
	Authenticate(ctx context.Context, token string) (Identity, error)
}

// Review is one TokenReview the webhook answered. It never holds the
// token.
type Review struct {
	Authenticator string // who decided; "" when nobody recognised the token
	Authenticated bool
	Username      string
	Error         string
}

// Webhook serves TokenReviews for kube-apiserver over TLS on 127.0.0.1.
type Webhook struct {
	auths []Authenticator
	srv   *http.Server
	url   string
	ca    *cloudnet.CA

	mu      sync.Mutex
	reviews []Review
	tokens  map[string]bool
}

// StartWebhook serves a webhook that accepts a token when one of auths
// does (they are asked in order), and refuses every other token.
func StartWebhook(auths ...Authenticator) (*Webhook, error) {
	ca, err := cloudnet.NewCA()
	if err != nil {
		return nil, fmt.Errorf("starting token webhook: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting token webhook: %w", err)
	}
	w := &Webhook{auths: auths, ca: ca, url: "https://" + ln.Addr().String() + "/tokenreview"}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tokenreview", w.serve)
	w.srv = &http.Server{
		Handler:           mux,
		TLSConfig:         ca.ServerTLS("127.0.0.1"),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = w.srv.ServeTLS(ln, "", "") }() // ends with Close
	return w, nil
}

// Config is the cluster option that points kube-apiserver at the webhook
// (cache TTL 0: every request is reviewed).
func (w *Webhook) Config() *testenv.TokenWebhook {
	return &testenv.TokenWebhook{URL: w.url, CAPEM: w.ca.PEM()}
}

// Reviews returns the reviews answered so far.
func (w *Webhook) Reviews() []Review {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.reviews)
}

// Tokens returns the distinct bearer tokens kube-apiserver asked about,
// accepted or not, so a test can assert that none of them appears in
// what a client printed. (Reviews never holds a token.)
func (w *Webhook) Tokens() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]string, 0, len(w.tokens))
	for t := range w.tokens {
		out = append(out, t)
	}
	return out
}

// Close stops the webhook.
func (w *Webhook) Close() error { return w.srv.Close() }

func (w *Webhook) serve(rw http.ResponseWriter, r *http.Request) {
	var tr authnv1.TokenReview
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&tr); err != nil {
		http.Error(rw, "decoding TokenReview: "+err.Error(), http.StatusBadRequest)
		return
	}
	rev := w.review(r.Context(), tr.Spec.Token)
	out := authnv1.TokenReview{}
	out.APIVersion, out.Kind = "authentication.k8s.io/v1", "TokenReview"
	out.Status.Error = rev.err
	if rev.ok {
		out.Status.Authenticated = true
		out.Status.User = authnv1.UserInfo{Username: rev.id.Username, UID: rev.id.UID, Groups: rev.id.Groups}
		for k, v := range rev.id.Extra {
			if out.Status.User.Extra == nil {
				out.Status.User.Extra = map[string]authnv1.ExtraValue{}
			}
			out.Status.User.Extra[k] = v
		}
		out.Status.Audiences = tr.Spec.Audiences
	}
	rw.Header().Set("Content-Type", "application/json")
	json.NewEncoder(rw).Encode(out)
}

type decision struct {
	id  Identity
	ok  bool
	err string
}

func (w *Webhook) review(ctx context.Context, token string) decision {
	rec := Review{}
	d := decision{err: "token not recognised"}
	for _, a := range w.auths {
		id, err := a.Authenticate(ctx, token)
		if errors.Is(err, ErrNotMine) {
			continue
		}
		rec.Authenticator = a.Name()
		if err != nil {
			d = decision{err: err.Error()}
		} else {
			d = decision{id: id, ok: true}
			rec.Authenticated, rec.Username = true, id.Username
		}
		break
	}
	rec.Error = d.err
	w.mu.Lock()
	w.reviews = append(w.reviews, rec)
	if w.tokens == nil {
		w.tokens = map[string]bool{}
	}
	w.tokens[token] = true
	w.mu.Unlock()
	return d
}
