package gate

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// Condition is a compiled successCondition or failureCondition.
type Condition struct {
	Source string
	prog   *vm.Program
}

// condEnv is what a condition sees: result, and the helper functions
// Argo Rollouts offers.
type condEnv struct {
	Result  any                        `expr:"result"`
	IsNaN   func(float64) bool         `expr:"isNaN"`
	IsInf   func(float64) bool         `expr:"isInf"`
	IsNil   func(any) bool             `expr:"isNil"`
	AsInt   func(any) (int64, error)   `expr:"asInt"`
	AsFloat func(any) (float64, error) `expr:"asFloat"`
	Default func(v, d any) any         `expr:"default"`
}

func conditionEnv(result any) condEnv {
	return condEnv{
		Result: result,
		IsNaN:  func(f float64) bool { return math.IsNaN(f) },
		IsInf:  func(f float64) bool { return math.IsInf(f, 0) },
		IsNil: func(v any) bool {
			return v == nil || (reflect.ValueOf(v).Kind() == reflect.Pointer && reflect.ValueOf(v).IsNil())
		},
		AsInt:   asInt,
		AsFloat: asFloat,
		Default: func(v, d any) any {
			if v == nil {
				return d
			}
			return v
		},
	}
}

func asInt(v any) (int64, error) {
	switch x := v.(type) {
	case string:
		return strconv.ParseInt(x, 10, 64)
	case float64:
		return int64(x), nil
	case int:
		return int64(x), nil
	case int64:
		return x, nil
	}
	return 0, fmt.Errorf("asInt: cannot convert %T", v)
}

func asFloat(v any) (float64, error) {
	switch x := v.(type) {
	case string:
		return strconv.ParseFloat(x, 64)
	case float64:
		return x, nil
	case int:
		return float64(x), nil
	case int64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("asFloat: cannot convert %T", v)
}

// compileCondition compiles a condition; "" compiles to nil.
func compileCondition(src string) (*Condition, error) {
	if src == "" {
		return nil, nil
	}
	p, err := expr.Compile(src, expr.Env(condEnv{}))
	if err != nil {
		return nil, fmt.Errorf("%q does not compile: %s", src, firstLine(err.Error()))
	}
	return &Condition{Source: src, prog: p}, nil
}

// eval evaluates c over result; the result must be a bool.
func (c *Condition) eval(result any) (bool, error) {
	out, err := expr.Run(c.prog, conditionEnv(result))
	if err != nil {
		return false, fmt.Errorf("evaluating %q: %w", c.Source, err)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("%q gave %v (%T), not true or false", c.Source, out, out)
	}
	return b, nil
}

// Judge is the phase of one measurement with value result, as Argo
// Rollouts judges it: with neither condition, Successful; with only
// success, Failed when it is false; with only failure, Successful when
// it is false; with both, Failed when failure holds (whatever success
// says), Successful when only success holds, and Inconclusive when
// neither does. A condition that cannot be evaluated makes the
// measurement an Error. cond is the condition that decided.
func Judge(result any, success, failure *Condition) (phase Phase, cond string, err error) {
	var ok, bad bool
	if success != nil {
		if ok, err = success.eval(result); err != nil {
			return Error, success.Source, err
		}
	}
	if failure != nil {
		if bad, err = failure.eval(result); err != nil {
			return Error, failure.Source, err
		}
	}
	switch {
	case success == nil && failure == nil:
		return Successful, "", nil
	case failure == nil:
		if ok {
			return Successful, success.Source, nil
		}
		return Failed, "not (" + success.Source + ")", nil
	case success == nil:
		if bad {
			return Failed, failure.Source, nil
		}
		return Successful, "not (" + failure.Source + ")", nil
	}
	switch {
	case bad:
		return Failed, failure.Source, nil
	case ok:
		return Successful, success.Source, nil
	}
	return Inconclusive, "neither condition holds", nil
}

// firstLine is s up to its first line break: expr-lang's errors go on
// with a picture of the source.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return strings.TrimSpace(first)
}
