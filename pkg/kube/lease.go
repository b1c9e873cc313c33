package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// A workload's lock and promotion record is a coordination.k8s.io/v1
// Lease beside it, named ferry.KIND.NAME (ferry.deployment.web,
// ferry.statefulset.db, ferry.daemonset.agent, ferry.rollout.web): its holderIdentity is the
// run holding the lock, which renews it every third of
// leaseDurationSeconds while it lives, so a killed run's lock expires by
// itself; the record (promote.Record as JSON) is its annotation
// ferry.dev/record. Every write carries the resourceVersion read, so two
// runs never both take the lock.

// recordAnnotation holds the promotion record on the Lease.
const recordAnnotation = "ferry.dev/record"

// DefaultLockTTL is how long a lock outlives its holder's last renewal.
const DefaultLockTTL = 30 * time.Second

// LeaseName is the name of the Lease that locks Deployment name.
func LeaseName(name string) string { return LeaseNameFor(KindDeployment, name) }

// LeaseNameFor is the name of the Lease that locks the workload of kind
// ("" for a Deployment) named name.
func LeaseNameFor(kind, name string) string {
	if kind == "" {
		kind = KindDeployment
	}
	return "ferry." + strings.ToLower(kind) + "." + name
}

// leaseState is the pure view of a Lease a run decides on.
type leaseState struct {
	holder  string
	renewed time.Time
	ttl     time.Duration
}

// heldBy says who holds a lease at now: "" when nobody does (no holder,
// or its holder stopped renewing it before now).
func (l leaseState) heldBy(now time.Time) string {
	if l.holder == "" || l.renewed.IsZero() || !now.Before(l.renewed.Add(l.ttl)) {
		return ""
	}
	return l.holder
}

func stateOf(l *coordinationv1.Lease) leaseState {
	var s leaseState
	if l.Spec.HolderIdentity != nil {
		s.holder = *l.Spec.HolderIdentity
	}
	if l.Spec.RenewTime != nil {
		s.renewed = l.Spec.RenewTime.Time
	}
	if l.Spec.LeaseDurationSeconds != nil {
		s.ttl = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return s
}

func recordOf(l *coordinationv1.Lease) (*promote.Record, error) {
	raw := l.Annotations[recordAnnotation]
	if raw == "" {
		return nil, nil
	}
	var r promote.Record
	if err := json.Unmarshal([]byte(raw), &r); err != nil {
		return nil, fmt.Errorf("reading the record on lease %s/%s: %w", l.Namespace, l.Name, err)
	}
	return &r, nil
}

// Lock takes the Deployment's lease for run (see promote.Journal),
// waiting up to wait for a live holder, and returns the unfinished
// record a previous run left on it.
func (t *Target) Lock(ctx context.Context, run promote.RunInfo, wait time.Duration) (promote.Lock, *promote.Record, error) {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return nil, nil, err
	}
	// A Deployment that is not there, or whose container is ambiguous,
	// is bad input, found before anything is written (the lease
	// included).
	if err := t.lookUp(ctx, cs); err != nil {
		return nil, nil, err
	}
	return t.lock(ctx, cs, run, wait)
}

// lock is Lock once the Deployment was found.
func (t *Target) lock(ctx context.Context, cs API, run promote.RunInfo, wait time.Duration) (promote.Lock, *promote.Record, error) {
	leases := cs.Leases(t.ref.Namespace)
	name := LeaseNameFor(t.ref.Kind, t.ref.Name)
	ttl := t.lockTTL()
	w := &promote.LockWaiter{Wait: wait, Poll: promote.LockPoll(ttl), Log: func(h promote.RunInfo) {
		t.logf("lock: lease %s is held by %s; waiting up to %s (FERRY_LOCK_WAIT)", name, h, wait)
	}}
	for {
		l, err := leases.Get(ctx, name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			created, err := t.createLease(ctx, leases, name, run.ID, ttl)
			if apierrors.IsAlreadyExists(err) {
				continue // another run was quicker: look again
			}
			if err != nil {
				return nil, nil, err
			}
			return t.held(cs, created, run), nil, nil
		}
		if err != nil {
			return nil, nil, leaseError("reading", t.ref.Namespace, name, err)
		}
		rec, rerr := recordOf(l)
		st := stateOf(l)
		if holder := st.heldBy(time.Now()); holder != "" && holder != run.ID {
			if err := w.Held(ctx, promote.Holder(holder, rec)); err != nil {
				return nil, nil, err
			}
			continue
		}
		if rerr != nil {
			return nil, nil, rerr
		}
		if st.holder != "" && st.holder != run.ID {
			t.logf("lock: lease %s was held by %s, which stopped renewing it; taking it over", name, st.holder)
		}
		take(l, run.ID, ttl)
		updated, err := leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: "ferry"})
		if apierrors.IsConflict(err) {
			continue // someone wrote it since we read it: look again
		}
		if err != nil {
			return nil, nil, leaseError("taking", t.ref.Namespace, name, err)
		}
		if rec != nil && !rec.Step.Unfinished() {
			rec = nil
		}
		return t.held(cs, updated, run), rec, nil
	}
}

// createLease creates the lease, held by id; an AlreadyExists error is
// returned as it is.
func (t *Target) createLease(ctx context.Context, leases LeaseClient, name, id string, ttl time.Duration) (*coordinationv1.Lease, error) {
	l := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: t.ref.Namespace,
		Labels: map[string]string{"app.kubernetes.io/managed-by": "ferry"}}}
	take(l, id, ttl)
	created, err := leases.Create(ctx, l, metav1.CreateOptions{FieldManager: "ferry"})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, leaseError("creating", t.ref.Namespace, name, err)
	}
	return created, err
}

func (t *Target) lockTTL() time.Duration {
	if t.opts.LockTTL > 0 {
		return t.opts.LockTTL
	}
	return DefaultLockTTL
}

func leaseError(what, ns, name string, err error) error {
	if apierrors.IsForbidden(err) {
		return promote.Input(fmt.Errorf("%s lease %s/%s (the lock and record of a promotion) is forbidden: grant get, create and update on leases.coordination.k8s.io in namespace %s (docs/rbac/roles.yaml): %w", what, ns, name, ns, err))
	}
	return fmt.Errorf("%s lease %s/%s: %w", what, ns, name, err)
}

// take makes l held by id from now.
func take(l *coordinationv1.Lease, id string, ttl time.Duration) {
	now := metav1.NewMicroTime(time.Now())
	secs := int32(max(ttl/time.Second, 1))
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != id {
		n := int32(0)
		if l.Spec.LeaseTransitions != nil {
			n = *l.Spec.LeaseTransitions + 1
		}
		l.Spec.LeaseTransitions = &n
	}
	l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds = &id, &secs
	l.Spec.AcquireTime, l.Spec.RenewTime = &now, &now
}

// leaseLock is a held lease: it renews it until Unlock.
type leaseLock struct {
	t      *Target
	leases LeaseClient
	run    promote.RunInfo
	ttl    time.Duration

	mu    sync.Mutex
	lease *coordinationv1.Lease
	lost  error

	stop chan struct{}
	done chan struct{}
}

func (t *Target) held(cs API, l *coordinationv1.Lease, run promote.RunInfo) *leaseLock {
	k := &leaseLock{t: t, leases: cs.Leases(t.ref.Namespace), run: run, ttl: t.lockTTL(), lease: l,
		stop: make(chan struct{}), done: make(chan struct{})}
	go k.renew()
	return k
}

// renew renews the lease every third of its duration until Unlock.
func (k *leaseLock) renew() {
	promote.Heartbeat(k.ttl, k.stop, k.done,
		func(ctx context.Context) error {
			return k.write(ctx, func(l *coordinationv1.Lease) {
				now := metav1.NewMicroTime(time.Now())
				l.Spec.RenewTime = &now
			})
		},
		func(err error) { k.t.logf("WARNING: lock: renewing lease %s: %v", k.lease.Name, err) })
}

// write applies edit to the lease and updates it, re-reading it on a
// conflict (a renewal racing a save) as long as this run still holds it.
func (k *leaseLock) write(ctx context.Context, edit func(*coordinationv1.Lease)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.lost != nil {
		return k.lost
	}
	for range 5 {
		l := k.lease.DeepCopy()
		edit(l)
		updated, err := k.leases.Update(ctx, l, metav1.UpdateOptions{FieldManager: "ferry"})
		if err == nil {
			k.lease = updated
			return nil
		}
		if !apierrors.IsConflict(err) {
			return err
		}
		cur, gerr := k.leases.Get(ctx, k.lease.Name, metav1.GetOptions{})
		if gerr != nil {
			return gerr
		}
		if h := stateOf(cur).holder; h != k.run.ID {
			k.lost = fmt.Errorf("lease %s was taken over by %s (this run stopped renewing it for longer than %s)", k.lease.Name, h, k.ttl)
			return k.lost
		}
		k.lease = cur
	}
	return errors.New("lease kept changing under this run")
}

// Save writes r into the lease's annotation.
func (k *leaseLock) Save(ctx context.Context, r promote.Record) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return k.write(ctx, func(l *coordinationv1.Lease) {
		if l.Annotations == nil {
			l.Annotations = map[string]string{}
		}
		l.Annotations[recordAnnotation] = string(raw)
	})
}

// Unlock stops renewing and gives the lease up, leaving the last record
// on it.
func (k *leaseLock) Unlock(ctx context.Context) error {
	close(k.stop)
	<-k.done
	return k.write(ctx, func(l *coordinationv1.Lease) {
		l.Spec.HolderIdentity, l.Spec.RenewTime = nil, nil
	})
}

// Peek reads the record on the Deployment's lease, nil when there is
// none (see promote.RecordReader).
func (t *Target) Peek(ctx context.Context) (*promote.Record, error) {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return nil, err
	}
	l, err := cs.Leases(t.ref.Namespace).Get(ctx, LeaseNameFor(t.ref.Kind, t.ref.Name), metav1.GetOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsForbidden(err) {
		return nil, nil // never promoted here, or a Role without leases: nothing to tell
	}
	if err != nil {
		return nil, err
	}
	return recordOf(l)
}

var (
	_ promote.RecordReader = (*Target)(nil)
	_ promote.Journal      = (*Target)(nil)
	_ promote.Recoverer    = (*Target)(nil)
)
