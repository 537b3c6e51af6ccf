package router

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// WeightBody is the admin API's representation of the canary weight, for
// both GET and PUT /weight.
type WeightBody struct {
	Weight int `json:"weight"`
}

// ErrorBody is what the admin API answers when it refuses a request; the
// local TrafficRouter quotes Error back to the rollout.
type ErrorBody struct {
	Error string `json:"error"`
}

// maxAdminBody bounds PUT bodies: a weight is a few bytes.
const maxAdminBody = 4 << 10

func (r *Router) adminMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /weight", r.getWeight)
	mux.HandleFunc("PUT /weight", r.putWeight)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /metrics", r.metricsHandler())
	return mux
}

func (r *Router) getWeight(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, WeightBody{Weight: r.Weight()})
}

func (r *Router) putWeight(w http.ResponseWriter, req *http.Request) {
	// A pointer tells "weight": 0 apart from a body that forgot the field.
	var body struct {
		Weight *int `json:"weight"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, req.Body, maxAdminBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		writeError(w, http.StatusBadRequest, fmt.Sprintf(`body must be JSON like {"weight": 25}: %v`, err))
		return
	}
	if dec.More() {
		writeError(w, http.StatusBadRequest, `body must be one JSON object like {"weight": 25}`)
		return
	}
	if body.Weight == nil {
		writeError(w, http.StatusBadRequest, `"weight" is required, an integer from 0 to 100`)
		return
	}
	err := r.SetWeight(*body.Weight)
	switch {
	case errors.Is(err, ErrWeightRange):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("weight %d is outside 0..100", *body.Weight))
		return
	case errors.Is(err, ErrWeightRefused):
		r.log.Warn("refused canary weight", "weight", *body.Weight, "max_weight", r.maxWeight)
		writeError(w, http.StatusUnprocessableEntity,
			fmt.Sprintf("weight %d is above this router's max weight %d", *body.Weight, r.maxWeight))
		return
	case err != nil:
		writeError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, WeightBody{Weight: r.Weight()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, ErrorBody{Error: msg})
}
