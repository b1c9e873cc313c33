package testenv

import (
	"context"
	"errors"
	"sync"
)

// StartPair starts the two clusters of ferry's end-to-end tests, "staging"
// and "production", side by side. On error neither keeps running. Meant for
// TestMain:
//
//	func TestMain(m *testing.M) {
//		staging, production, err := testenv.StartPair(context.Background())
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		if err := errors.Join(staging.Stop(), production.Stop()); err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			code = 1
//		}
//		os.Exit(code)
//	}
func StartPair(ctx context.Context) (staging, production *Cluster, err error) {
	return StartPairWith(ctx, ClusterOptions{}, ClusterOptions{})
}

// StartPairWith is StartPair with each cluster's options (a token
// webhook each, for example).
func StartPairWith(ctx context.Context, stagingOpts, productionOpts ClusterOptions) (staging, production *Cluster, err error) {
	var (
		wg         sync.WaitGroup
		errS, errP error
	)
	wg.Go(func() { staging, errS = StartClusterWith(ctx, "staging", stagingOpts) })
	wg.Go(func() { production, errP = StartClusterWith(ctx, "production", productionOpts) })
	wg.Wait()
	if err := errors.Join(errS, errP); err != nil {
		for _, c := range []*Cluster{staging, production} {
			if c != nil {
				err = errors.Join(err, c.Stop())
			}
		}
		return nil, nil, err
	}
	return staging, production, nil
}
