package manager

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kubeask/kubeask/internal/llm/catalog"
)

// catalogPublisher writes the public part of the catalog (catalog.Public) to the
// kubeask-catalog ConfigMap of the manager's namespace when the manager starts, which
// it does again whenever --config changes (the chart rolls the pods). Clients without
// the catalog read it as their user: kubectl ask ui offers what they may use. Every
// replica writes the same content, so it needs no leadership.
type catalogPublisher struct {
	// Reader reads straight from the API server: the manager's cache never holds
	// ConfigMaps.
	Reader    client.Reader
	Writer    client.Writer
	Namespace string
	Public    *catalog.Public
}

func (p *catalogPublisher) NeedLeaderElection() bool { return false }

// Start writes the ConfigMap, retrying with backoff until it succeeds or ctx ends; a
// failure never stops the manager (clients then offer free text).
func (p *catalogPublisher) Start(ctx context.Context) error {
	logger := log.FromContext(ctx).WithValues("configMap", p.Namespace+"/"+catalog.PublicConfigMap)
	backoff := wait.Backoff{Duration: time.Second, Factor: 2, Jitter: 0.1, Steps: 100, Cap: 5 * time.Minute}
	for {
		err := p.publish(ctx)
		if err == nil {
			logger.Info("published the public catalog")
			return nil
		}
		logger.Error(err, "could not publish the public catalog; kubectl ask ui offers free text until it is")
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff.Step()):
		}
	}
}

func (p *catalogPublisher) publish(ctx context.Context) error {
	data, err := p.Public.Marshal()
	if err != nil {
		return err
	}
	cm := &corev1.ConfigMap{}
	err = p.Reader.Get(ctx, client.ObjectKey{Namespace: p.Namespace, Name: catalog.PublicConfigMap}, cm)
	if apierrors.IsNotFound(err) {
		// The chart creates it; other installations may let the manager create it.
		cm = &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: catalog.PublicConfigMap,
				Labels: map[string]string{"app.kubernetes.io/managed-by": "kubeask-manager"}},
			Data: map[string]string{catalog.PublicKey: data},
		}
		if err := p.Writer.Create(ctx, cm); err != nil {
			return fmt.Errorf("creating it (the chart creates it for the manager): %w", err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if cm.Data[catalog.PublicKey] == data {
		return nil
	}
	if cm.Data == nil {
		cm.Data = map[string]string{}
	}
	cm.Data[catalog.PublicKey] = data
	return p.Writer.Update(ctx, cm)
}
