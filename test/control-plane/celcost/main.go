// celcost: the runtime CEL cost of a ValidatingAdmissionPolicy for one admission request, computed
// by the API server's own code (k8s.io/apiserver, the version kube-apiserver is built from): the
// same composited compiler, environment and cost tracker as the validating admission plugin.
// kube-apiserver reports no costs, only "cost limit exceeded"; this prints the numbers.
//
//	go run ./celcost < request.json   (in test/control-plane; see test/k8s/whitelist-vap.test.ts)
//
// request.json: {"policy": ValidatingAdmissionPolicy, "object": {...}, "oldObject": {...}?,
// "params": ConfigMap?}. Prints JSON: the cost of each variable, each validation (without the
// variables it uses), each messageExpression, and the total, with the limits.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/admission"
	plugincel "k8s.io/apiserver/pkg/admission/plugin/cel"
	"k8s.io/apiserver/pkg/admission/plugin/policy/validating"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"k8s.io/apiserver/pkg/cel/environment"
)

type input struct {
	Policy    admissionregistrationv1.ValidatingAdmissionPolicy `json:"policy"`
	Object    map[string]any                                    `json:"object"`
	OldObject map[string]any                                    `json:"oldObject"`
	Params    map[string]any                                    `json:"params"`
}

type cost struct {
	Name  string `json:"name"`
	Cost  int64  `json:"cost"`
	Error string `json:"error,omitempty"`
}

type output struct {
	Variables          []cost `json:"variables"`
	Validations        []cost `json:"validations"`
	MessageExpressions []cost `json:"messageExpressions"`
	Total              int64  `json:"total"`
	PerCallLimit       int64  `json:"perCallLimit"`
	PerPolicyBudget    int64  `json:"perPolicyBudget"`
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "celcost:", err)
	os.Exit(1)
}

func main() {
	var in input
	if err := json.NewDecoder(os.Stdin).Decode(&in); err != nil {
		fail(err)
	}
	spec := in.Policy.Spec
	hasParams := spec.ParamKind != nil
	variables := make([]plugincel.NamedExpressionAccessor, len(spec.Variables))
	for i, v := range spec.Variables {
		variables[i] = &validating.Variable{Name: v.Name, Expression: v.Expression}
	}
	validationOptions := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: true}
	messageOptions := plugincel.OptionalVariableDeclarations{HasParams: hasParams, HasAuthorizer: false}

	object := &unstructured.Unstructured{Object: in.Object}
	var oldObject runtime.Object
	operation := admission.Create
	if in.OldObject != nil {
		oldObject = &unstructured.Unstructured{Object: in.OldObject}
		operation = admission.Update
	}
	gvk := object.GroupVersionKind()
	resource := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"}
	attributes := admission.NewAttributesRecord(object, oldObject, gvk, object.GetNamespace(), object.GetName(), resource, "", operation, nil, false, nil)
	versioned := &admission.VersionedAttributes{Attributes: attributes, VersionedKind: gvk, VersionedObject: admission.NewLazyObject(object)}
	if oldObject != nil {
		versioned.VersionedOldObject = admission.NewLazyObject(oldObject)
	}
	request := plugincel.CreateAdmissionRequest(attributes, metav1.GroupVersionResource(resource), metav1.GroupVersionKind(gvk))
	namespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: object.GetNamespace()}}
	var params runtime.Object
	if in.Params != nil {
		params = &unstructured.Unstructured{Object: in.Params}
	}

	// The budget spent by a list of expressions, compiled and evaluated as the plugin does
	// (variables compiled once per policy, evaluated lazily and charged once per request).
	spent := func(expressions []plugincel.ExpressionAccessor, options plugincel.OptionalVariableDeclarations) (int64, []string, []plugincel.EvaluationResult) {
		compiler, err := plugincel.NewCompositedCompiler(environment.MustBaseEnvSet(environment.DefaultCompatibilityVersion()))
		if err != nil {
			fail(err)
		}
		compiler.CompileAndStoreVariables(variables, validationOptions, environment.StoredExpressions)
		evaluator := compiler.CompileCondition(expressions, options, environment.StoredExpressions)
		results, remaining, err := evaluator.ForInput(context.Background(), versioned, request, plugincel.OptionalVariableBindings{VersionedParams: params, Authorizer: nil}, namespace, celconfig.RuntimeCELCostBudget)
		var errs []string
		if err != nil {
			errs = append(errs, err.Error())
		}
		for _, result := range results {
			if result.Error != nil {
				errs = append(errs, result.Error.Error())
			}
		}
		return celconfig.RuntimeCELCostBudget - remaining, errs, results
	}
	touch := func(n int) []plugincel.ExpressionAccessor {
		terms := []string{"true"}
		for _, v := range spec.Variables[:n] {
			terms = append(terms, fmt.Sprintf("[variables.%s].size() == 1", v.Name))
		}
		return []plugincel.ExpressionAccessor{&validating.ValidationCondition{Expression: strings.Join(terms, " && ")}}
	}
	short := func(err []string) string {
		text := strings.Join(err, "; ")
		if len(text) > 300 {
			text = text[:300] + "…"
		}
		return text
	}

	out := output{PerCallLimit: celconfig.PerCallLimit, PerPolicyBudget: celconfig.RuntimeCELCostBudget}
	base, _, _ := spent(touch(0), validationOptions)
	previous := base
	for i, v := range spec.Variables {
		total, errs, _ := spent(touch(i+1), validationOptions)
		out.Variables = append(out.Variables, cost{Name: v.Name, Cost: total - previous, Error: short(errs)})
		previous = total
	}
	allVariables := touch(len(spec.Variables))
	var validations []plugincel.ExpressionAccessor
	messageCost := map[int]int64{}
	for i, v := range spec.Validations {
		validations = append(validations, &validating.ValidationCondition{Expression: v.Expression})
		total, errs, _ := spent(append(allVariables[:1:1], validations[i]), validationOptions)
		out.Validations = append(out.Validations, cost{Name: fmt.Sprintf("spec.validations[%d]", i), Cost: total - previous, Error: short(errs)})
		if v.MessageExpression != "" {
			message := &validating.MessageExpressionCondition{MessageExpression: v.MessageExpression}
			total, errs, _ := spent(append(allVariables[:1:1], message), messageOptions)
			messageCost[i] = total - previous
			out.MessageExpressions = append(out.MessageExpressions, cost{Name: fmt.Sprintf("spec.validations[%d].messageExpression", i), Cost: total - previous, Error: short(errs)})
		}
	}
	// What the plugin spends on this request: the validations, then the messages of those that refuse.
	total, _, results := spent(validations, validationOptions)
	for i, result := range results {
		if result.Error == nil && result.EvalResult != nil && result.EvalResult.Value() != true {
			total += messageCost[i]
		}
	}
	out.Total = total
	encoder := json.NewEncoder(os.Stdout)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(out); err != nil {
		fail(err)
	}
}
