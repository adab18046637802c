package fleet

import (
	"context"
	"time"
)

// RolloutWithClock is Rollout with the rollout's waits (soak, health
// retries) taken from after instead of time.After, so that a lab test can
// end a soak at the point it chooses rather than race the timer.
func (e *Engine) RolloutWithClock(ctx context.Context, p Plan, after func(time.Duration) <-chan time.Time) *Rollout {
	return e.rollout(ctx, p, nixSteps{}, after)
}
