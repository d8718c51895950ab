package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// department is one provider API, served on its own listener.
type department struct {
	// Name is the department's flag name and the first column of -list.
	Name string
	// Provider is the provider id the catalogue uses.
	Provider       string
	Title          string
	DefaultAddress string
	// Gzip makes the department compress every response whose request
	// accepts gzip, so the gateway has compressed bodies to decode.
	Gzip   bool
	routes func(mux *http.ServeMux, data *dataset, out responder)
}

var departments = []department{
	{"population", "xm-public-security", "厦门市公安局", "127.0.0.1:9101", false, populationRoutes},
	{"marriage", "xm-civil-affairs", "厦门市民政局", "127.0.0.1:9102", false, civilAffairsRoutes},
	{"enterprise", "xm-market-regulation", "厦门市市场监督管理局", "127.0.0.1:9103", true, enterpriseRoutes},
	{"housing-fund", "xm-housing-fund", "厦门市住房公积金管理中心", "127.0.0.1:9104", true, housingFundRoutes},
	{"emergency", "xm-emergency", "厦门市应急管理局", "127.0.0.1:9105", false, emergencyRoutes},
}

const (
	jsonContentType = "application/json; charset=utf-8"
	csvContentType  = "text/csv; charset=utf-8"
)

// Error messages never repeat the identifier from the path, which may be a
// real person's identity number when the API is called by mistake.
const (
	invalidIDNumber   = "invalid identity number: expected 18 characters, 17 digits and a GB 11643 check character (0-9 or X)"
	invalidCreditCode = "invalid unified social credit code: expected 18 characters of 0-9 and A-Y without I, O, S, V, Z, ending in a GB 32100 check character"
)

// newDepartmentHandler returns the handler of one department: its routes,
// GET /healthz, and a JSON 404 for every other path.
func newDepartmentHandler(dep *department, data *dataset, logger *slog.Logger) http.Handler {
	out := responder{gzip: dep.Gzip}
	mux := http.NewServeMux()
	mux.Handle("/healthz", getOnly(out, func(w http.ResponseWriter, r *http.Request) {
		out.writeJSON(w, r, http.StatusOK, map[string]string{"status": "ok", "provider": dep.Provider})
	}))
	dep.routes(mux, data, out)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		out.writeError(w, r, http.StatusNotFound, "no such API: see the department's interface list for the paths it serves")
	})
	return logRequests(dep, logger, mux)
}

func populationRoutes(mux *http.ServeMux, data *dataset, out responder) {
	mux.Handle("/api/population/persons/{id_number}", getOnly(out, func(w http.ResponseWriter, r *http.Request) {
		format, ok := out.format(w, r)
		if !ok {
			return
		}
		id := r.PathValue("id_number")
		if !validIdentityNumber(id) {
			out.writeError(w, r, http.StatusBadRequest, invalidIDNumber)
			return
		}
		p := data.personByID[id]
		if p == nil {
			out.writeError(w, r, http.StatusNotFound, "no person is registered with this identity number")
			return
		}
		if format == "csv" {
			writePersonCSV(w, p)
			return
		}
		out.writeJSON(w, r, http.StatusOK, p)
	}))
	mux.Handle("/api/population/census/{district_code}", getOnly(out, func(w http.ResponseWriter, r *http.Request) {
		serveCensus(w, r, out)
	}))
}

func serveCensus(w http.ResponseWriter, r *http.Request, out responder) {
	format, ok := out.format(w, r)
	if !ok {
		return
	}
	d := districtByCode(r.PathValue("district_code"))
	if d == nil {
		out.writeError(w, r, http.StatusNotFound, "unknown district code: use one of 350203, 350205, 350206, 350211, 350212, 350213")
		return
	}
	count := censusDefaultCount
	if text := r.URL.Query().Get("count"); text != "" {
		n, err := strconv.Atoi(text)
		if err != nil || n < 0 || n > censusMaxCount {
			out.writeError(w, r, http.StatusBadRequest,
				"invalid count "+strconv.Quote(text)+": use a whole number from 0 to "+strconv.Itoa(censusMaxCount))
			return
		}
		count = n
	}

	// A listing may take seconds to write, and the server's write timeout is
	// sized for single records.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(censusTimeout))
	var err error
	if format == "csv" {
		w.Header().Set("Content-Type", csvContentType)
		err = writeCensusCSV(w, d, count)
	} else {
		w.Header().Set("Content-Type", jsonContentType)
		err = writeCensusJSON(w, d, count)
	}
	if err != nil {
		// The status line has been sent already. Aborting the connection
		// marks the body as incomplete for the client.
		panic(http.ErrAbortHandler)
	}
}

func writePersonCSV(w http.ResponseWriter, p *person) {
	w.Header().Set("Content-Type", csvContentType)
	_ = writeCSVRows(w, personCSVHeader, personCSVRow(p))
}

func civilAffairsRoutes(mux *http.ServeMux, data *dataset, out responder) {
	mux.Handle("/api/marriage/records/{id_number}", getOnly(out,
		recordHandler(out, "id_number", validIdentityNumber, invalidIDNumber,
			data.marriageByID, "no marriage registration is recorded for this identity number")))
	mux.Handle("/api/civil/adoptions/{id_number}", getOnly(out,
		recordHandler(out, "id_number", validIdentityNumber, invalidIDNumber,
			data.adoptionByID, "no adoption registration is recorded for this identity number")))
}

func enterpriseRoutes(mux *http.ServeMux, data *dataset, out responder) {
	mux.Handle("/api/enterprise/companies/{credit_code}", getOnly(out,
		recordHandler(out, "credit_code", validCreditCode, invalidCreditCode,
			data.companyByCode, "no enterprise is registered with this unified social credit code")))
}

func housingFundRoutes(mux *http.ServeMux, data *dataset, out responder) {
	mux.Handle("/api/housing-fund/accounts/{id_number}", getOnly(out,
		recordHandler(out, "id_number", validIdentityNumber, invalidIDNumber,
			data.accountByID, "no provident fund account is held under this identity number")))
}

func emergencyRoutes(mux *http.ServeMux, data *dataset, out responder) {
	mux.Handle("/api/emergency/typhoon-evacuees/{id_number}", getOnly(out,
		recordHandler(out, "id_number", validIdentityNumber, invalidIDNumber,
			data.evacueeByID, "no evacuee is recorded under this identity number")))
}

// recordHandler serves the record that index holds for the path value
// named key: 400 with invalidMessage if valid rejects the value, 404 with
// notFoundMessage if there is no record.
func recordHandler[T any](out responder, key string, valid func(string) bool, invalidMessage string,
	index map[string]*T, notFoundMessage string,
) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		value := r.PathValue(key)
		if !valid(value) {
			out.writeError(w, r, http.StatusBadRequest, invalidMessage)
			return
		}
		record := index[value]
		if record == nil {
			out.writeError(w, r, http.StatusNotFound, notFoundMessage)
			return
		}
		out.writeJSON(w, r, http.StatusOK, record)
	}
}

// getOnly rejects methods other than GET and HEAD with a JSON 405.
func getOnly(out responder, next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			out.writeError(w, r, http.StatusMethodNotAllowed, "method "+strconv.Quote(r.Method)+" not allowed: use GET")
			return
		}
		next(w, r)
	})
}

// responder writes a department's JSON responses.
type responder struct {
	gzip bool
}

type errorBody struct {
	Error string `json:"error"`
}

func (out responder) writeError(w http.ResponseWriter, r *http.Request, status int, message string) {
	out.writeJSON(w, r, status, errorBody{Error: message})
}

// writeJSON writes v as the JSON body with an exact Content-Length,
// gzip-compressed when the department compresses and the request accepts it.
func (out responder) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	var body bytes.Buffer
	encoder := json.NewEncoder(&body)
	encoder.SetEscapeHTML(false)
	if err := encoder.Encode(v); err != nil {
		http.Error(w, "encoding response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	header := w.Header()
	header.Set("Content-Type", jsonContentType)
	payload := body.Bytes()
	if out.gzip {
		header.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Values("Accept-Encoding")) {
			payload = gzipBytes(payload)
			header.Set("Content-Encoding", "gzip")
		}
	}
	header.Set("Content-Length", strconv.Itoa(len(payload)))
	w.WriteHeader(status)
	_, _ = w.Write(payload)
}

func gzipBytes(data []byte) []byte {
	var compressed bytes.Buffer
	writer := gzip.NewWriter(&compressed)
	// Writes to a bytes.Buffer cannot fail.
	_, _ = writer.Write(data)
	_ = writer.Close()
	return compressed.Bytes()
}

// format returns the requested representation, "json" (the default) or
// "csv" from the format query parameter. It writes a 400 and returns false
// for any other value.
func (out responder) format(w http.ResponseWriter, r *http.Request) (string, bool) {
	switch format := r.URL.Query().Get("format"); format {
	case "", "json":
		return "json", true
	case "csv":
		return "csv", true
	default:
		out.writeError(w, r, http.StatusBadRequest, "invalid format "+strconv.Quote(format)+": use json or csv")
		return "", false
	}
}

// acceptsGzip reports whether the Accept-Encoding header values allow a
// gzip body (RFC 9110, section 12.5.3): gzip or x-gzip with a non-zero
// q-value, or "*" with a non-zero q-value when gzip is not listed.
func acceptsGzip(values []string) bool {
	gzipQuality, anyQuality := -1.0, -1.0
	for _, value := range values {
		for element := range strings.SplitSeq(value, ",") {
			coding, parameters, _ := strings.Cut(element, ";")
			quality := qualityValue(parameters)
			switch strings.ToLower(strings.TrimSpace(coding)) {
			case "gzip", "x-gzip":
				gzipQuality = quality
			case "*":
				anyQuality = quality
			}
		}
	}
	if gzipQuality >= 0 {
		return gzipQuality > 0
	}
	return anyQuality > 0
}

// qualityValue returns the q parameter of an Accept-Encoding element: 1 when
// absent and 0 when malformed, so a garbled weight never enables a coding.
func qualityValue(parameters string) float64 {
	for parameter := range strings.SplitSeq(parameters, ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(parameter), "=")
		if !strings.EqualFold(strings.TrimSpace(name), "q") {
			continue
		}
		quality, err := strconv.ParseFloat(strings.TrimSpace(value), 64)
		if err != nil || quality < 0 || quality > 1 {
			return 0
		}
		return quality
	}
	return 1
}

// logRequests logs each request at debug level with its route pattern,
// never its path, because the path carries the subject's identity number.
func logRequests(dep *department, logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !logger.Enabled(r.Context(), slog.LevelDebug) {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		recorder := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(recorder, r)
		logger.LogAttrs(r.Context(), slog.LevelDebug, "request served",
			slog.String("department", dep.Name),
			slog.String("method", r.Method),
			slog.String("route", r.Pattern),
			slog.Int("status", recorder.status),
			slog.Int64("bytes", recorder.bytes),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// statusRecorder records the status and body size a handler writes.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(status int) {
	s.status = status
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	n, err := s.ResponseWriter.Write(p)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's write deadline.
func (s *statusRecorder) Unwrap() http.ResponseWriter {
	return s.ResponseWriter
}
