package meshcircuitbreaker

import (
	"fmt"
	"math/big"

	clusterv3 "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// enforced is Envoy's enforcing_* percentage of a configured detector: always; an
// unconfigured detector gets 0 so that Envoy's own defaults (some enforce at 100%) do not
// eject hosts the policy did not ask about.
const enforced = 100

// ConfigureCluster applies conf to a cluster the way Kuma does: the limits go into the
// default-priority thresholds (with track_remaining, so the remaining capacity is visible in
// stats), outlier detection replaces any earlier one unless it is disabled.
func ConfigureCluster(c *clusterv3.Cluster, conf Conf) error {
	t := defaultThreshold(c)
	t.TrackRemaining = true
	if l := conf.ConnectionLimits; l != nil {
		set := func(dst **wrapperspb.UInt32Value, v *uint32) {
			if v != nil {
				*dst = wrapperspb.UInt32(*v)
			}
		}
		set(&t.MaxConnectionPools, l.MaxConnectionPools)
		set(&t.MaxConnections, l.MaxConnections)
		set(&t.MaxPendingRequests, l.MaxPendingRequests)
		set(&t.MaxRetries, l.MaxRetries)
		set(&t.MaxRequests, l.MaxRequests)
	}
	return configureOutlierDetection(c, conf.OutlierDetection)
}

func defaultThreshold(c *clusterv3.Cluster) *clusterv3.CircuitBreakers_Thresholds {
	if c.CircuitBreakers == nil {
		c.CircuitBreakers = &clusterv3.CircuitBreakers{}
	}
	for _, t := range c.CircuitBreakers.Thresholds {
		if t != nil && t.Priority == corev3.RoutingPriority_DEFAULT {
			return t
		}
	}
	t := &clusterv3.CircuitBreakers_Thresholds{Priority: corev3.RoutingPriority_DEFAULT}
	c.CircuitBreakers.Thresholds = append(c.CircuitBreakers.Thresholds, t)
	return t
}

func configureOutlierDetection(c *clusterv3.Cluster, o *OutlierDetection) error {
	if o == nil || (o.Disabled != nil && *o.Disabled) {
		return nil
	}
	od := &clusterv3.OutlierDetection{}
	if o.Interval != nil {
		od.Interval = durationpb.New(o.Interval.Duration)
	}
	if o.BaseEjectionTime != nil {
		od.BaseEjectionTime = durationpb.New(o.BaseEjectionTime.Duration)
	}
	if o.SplitExternalAndLocalErrors != nil {
		od.SplitExternalLocalOriginErrors = *o.SplitExternalAndLocalErrors
	}
	if o.MaxEjectionPercent != nil {
		od.MaxEjectionPercent = wrapperspb.UInt32(*o.MaxEjectionPercent)
	}
	if err := configureDetectors(od, o.Detectors); err != nil {
		return err
	}
	c.OutlierDetection = od
	if o.HealthyPanicThreshold != nil {
		r, err := Decimal(*o.HealthyPanicThreshold)
		if err != nil {
			return fmt.Errorf("healthy panic threshold: %w", err)
		}
		f, _ := r.Float64()
		if c.CommonLbConfig == nil {
			c.CommonLbConfig = &clusterv3.Cluster_CommonLbConfig{}
		}
		c.CommonLbConfig.HealthyPanicThreshold = &typev3.Percent{Value: f}
	}
	return nil
}

func configureDetectors(od *clusterv3.OutlierDetection, d *Detectors) error {
	if d == nil {
		d = &Detectors{}
	}
	od.EnforcingConsecutive_5Xx, od.Consecutive_5Xx = consecutive(d.TotalFailures)
	od.EnforcingConsecutiveLocalOriginFailure, od.ConsecutiveLocalOriginFailure = consecutive(d.LocalOriginFailures)
	od.EnforcingConsecutiveGatewayFailure, od.ConsecutiveGatewayFailure = consecutive(d.GatewayFailures)
	if sr := d.SuccessRate; sr != nil {
		od.EnforcingSuccessRate = wrapperspb.UInt32(enforced)
		od.EnforcingLocalOriginSuccessRate = wrapperspb.UInt32(enforced)
		od.SuccessRateMinimumHosts = u32(sr.MinimumHosts)
		od.SuccessRateRequestVolume = u32(sr.RequestVolume)
		if f := sr.StandardDeviationFactor; f != nil {
			r, err := Decimal(*f)
			if err != nil {
				return fmt.Errorf("standard deviation factor: %w", err)
			}
			// Envoy reads the factor in thousandths (1900 is 1.9); the rest is cut off.
			milli := new(big.Int).Quo(new(big.Int).Mul(r.Num(), big.NewInt(1000)), r.Denom())
			od.SuccessRateStdevFactor = wrapperspb.UInt32(uint32(milli.Uint64()))
		}
	} else {
		od.EnforcingSuccessRate = wrapperspb.UInt32(0)
		od.EnforcingLocalOriginSuccessRate = wrapperspb.UInt32(0)
	}
	if fp := d.FailurePercentage; fp != nil {
		od.EnforcingFailurePercentage = wrapperspb.UInt32(enforced)
		od.EnforcingFailurePercentageLocalOrigin = wrapperspb.UInt32(enforced)
		od.FailurePercentageMinimumHosts = u32(fp.MinimumHosts)
		od.FailurePercentageRequestVolume = u32(fp.RequestVolume)
		od.FailurePercentageThreshold = u32(fp.Threshold)
	} else {
		od.EnforcingFailurePercentage = wrapperspb.UInt32(0)
		od.EnforcingFailurePercentageLocalOrigin = wrapperspb.UInt32(0)
	}
	return nil
}

// consecutive is the enforcing percentage and the count of a consecutive-failures detector.
func consecutive(c *Consecutive) (enforcing, count *wrapperspb.UInt32Value) {
	if c == nil || c.Consecutive == nil {
		return wrapperspb.UInt32(0), nil
	}
	return wrapperspb.UInt32(enforced), wrapperspb.UInt32(*c.Consecutive)
}

func u32(v *uint32) *wrapperspb.UInt32Value {
	if v == nil {
		return nil
	}
	return wrapperspb.UInt32(*v)
}
