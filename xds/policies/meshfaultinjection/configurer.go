package meshfaultinjection

import (
	"fmt"
	"math"
	"math/big"
	"strconv"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	faultcommonv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/common/fault/v3"
	faultv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/fault/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"
	typev3 "github.com/envoyproxy/go-control-plane/envoy/type/v3"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/jetmesh/jetmesh/xds/policies/meshhttproute"
	"github.com/jetmesh/jetmesh/xds/policies/patch"
)

// FilterName is the Envoy name of the HTTP fault filter.
const FilterName = "envoy.filters.http.fault"

// Faults is one policy's faults for an inbound: Name identifies the filters (the policy's
// KRI, as Kuma names them), Conf the faults in order.
type Faults struct {
	Name string
	Conf Conf
}

// ConfigureListener inserts one fault filter per fault before the router of every HTTP
// connection manager of l (an inbound listener, or a grpc-go API listener). grpcClient leaves
// out response bandwidth limits, which grpc-go does not implement.
func ConfigureListener(l *listenerv3.Listener, faults []Faults, grpcClient bool) error {
	var filters []*hcmv3.HttpFilter
	for _, f := range faults {
		for i, fault := range deref(f.Conf.Http) {
			cfg, err := HTTPFault(fault)
			if err != nil {
				return fmt.Errorf("fault %d of %s: %w", i, f.Name, err)
			}
			if grpcClient {
				cfg.ResponseRateLimit = nil
				if cfg.Abort == nil && cfg.Delay == nil {
					continue
				}
			}
			a, err := patch.Pack(cfg)
			if err != nil {
				return err
			}
			// Names must be unique within a connection manager.
			filters = append(filters, &hcmv3.HttpFilter{Name: f.Name + "_" + strconv.Itoa(i),
				ConfigType: &hcmv3.HttpFilter_TypedConfig{TypedConfig: a}})
		}
	}
	if len(filters) == 0 {
		return nil
	}
	return patch.HCM(l, func(m *hcmv3.HttpConnectionManager) error {
		n := len(m.HttpFilters)
		if n == 0 {
			return fmt.Errorf("connection manager of %s has no router", l.GetName())
		}
		router := m.HttpFilters[n-1]
		m.HttpFilters = append(append(m.HttpFilters[:n-1:n-1], filters...), router)
		return nil
	})
}

// HTTPFault is the Envoy fault configuration of one fault.
func HTTPFault(f FaultInjectionConf) (*faultv3.HTTPFault, error) {
	out := &faultv3.HTTPFault{}
	if a := f.Abort; a != nil {
		pct, err := fraction(a.Percentage)
		if err != nil {
			return nil, err
		}
		out.Abort = &faultv3.FaultAbort{Percentage: pct,
			ErrorType: &faultv3.FaultAbort_HttpStatus{HttpStatus: uint32(a.HttpStatus)}}
	}
	if d := f.Delay; d != nil {
		pct, err := fraction(d.Percentage)
		if err != nil {
			return nil, err
		}
		out.Delay = &faultcommonv3.FaultDelay{Percentage: pct,
			FaultDelaySecifier: &faultcommonv3.FaultDelay_FixedDelay{FixedDelay: durationpb.New(d.Value.Duration)}}
	}
	if b := f.ResponseBandwidth; b != nil {
		pct, err := fraction(b.Percentage)
		if err != nil {
			return nil, err
		}
		kbps, err := Kbps(b.Limit)
		if err != nil {
			return nil, err
		}
		out.ResponseRateLimit = &faultcommonv3.FaultRateLimit{Percentage: pct,
			LimitType: &faultcommonv3.FaultRateLimit_FixedLimit_{FixedLimit: &faultcommonv3.FaultRateLimit_FixedLimit{LimitKbps: kbps}}}
	}
	return out, nil
}

// fraction is Kuma's ConvertPercentage: whole percentages over a hundred, two decimals over
// ten thousand, more over a million.
func fraction(p meshhttproute.Percentage) (*typev3.FractionalPercent, error) {
	value := p.Value
	if value == "" {
		value = "0"
	}
	r, ok := new(big.Rat).SetString(value)
	if !ok {
		return nil, fmt.Errorf("percentage %q is not a number", p.Value)
	}
	f, _ := r.Float64()
	switch {
	case f == math.Floor(f):
		return &typev3.FractionalPercent{Numerator: uint32(f), Denominator: typev3.FractionalPercent_HUNDRED}, nil
	case 100*f == math.Floor(100*f):
		return &typev3.FractionalPercent{Numerator: uint32(100 * f), Denominator: typev3.FractionalPercent_TEN_THOUSAND}, nil
	}
	return &typev3.FractionalPercent{Numerator: uint32(math.Round(10_000 * f)), Denominator: typev3.FractionalPercent_MILLION}, nil
}

// Kbps converts a validated bandwidth ("10kbps", "5 Mbps", "1Gbps") to kilobits per second.
func Kbps(limit string) (uint64, error) {
	m := bandwidth.FindStringSubmatch(limit)
	if m == nil {
		return 0, fmt.Errorf("bandwidth %q: must be in kbps/Mbps/Gbps units", limit)
	}
	n, err := strconv.ParseUint(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bandwidth %q: %w", limit, err)
	}
	switch m[2] {
	case "kbps":
		return n, nil
	case "Mbps":
		return n * 1000, nil
	case "Gbps":
		return n * 1_000_000, nil
	}
	return 0, fmt.Errorf("bandwidth %q: unsupported unit", limit)
}
