package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testCA issues certificates for one test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testCA{cert: cert, key: key}
}

// issue signs a leaf certificate: a server one for localhost, or a client
// one.
func (ca *testCA) issue(t *testing.T, serial int64, server bool) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "e2e client"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.Subject.CommonName = "localhost"
		tmpl.DNSNames = []string{"localhost"}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	data := pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestClientCertificateAuthenticates(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	server := ca.issue(t, 2, true)
	known := ca.issue(t, 3, false)
	unknown := ca.issue(t, 4, false)

	files := &mtlsFiles{
		serverCert: filepath.Join(dir, "server.pem"),
		serverKey:  filepath.Join(dir, "server.key"),
		caFile:     filepath.Join(dir, "ca.pem"),
	}
	writePEM(t, files.serverCert, "CERTIFICATE", server.Certificate[0])
	keyDER, err := x509.MarshalECPrivateKey(server.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, files.serverKey, "EC PRIVATE KEY", keyDER)
	writePEM(t, files.caFile, "CERTIFICATE", ca.cert.Raw)

	digest := sha256.Sum256(known.Certificate[0])
	s := startStack(t, stackOptions{
		mtls:          files,
		consumerCerts: map[string]string{"siming-civil-affairs": hex.EncodeToString(digest[:])},
	})

	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	call := func(t *testing.T, cert *tls.Certificate) (int, string) {
		t.Helper()
		cfg := &tls.Config{RootCAs: roots, ServerName: "localhost"}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		client := &http.Client{Timeout: 10 * time.Second,
			Transport: &http.Transport{TLSClientConfig: cfg}}
		defer client.CloseIdleConnections()
		req, err := http.NewRequest("GET", s.base+"/api/population/persons/"+person, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Data-Scenario", "social_assistance_review")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET over mTLS: %v", err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}

	t.Run("registered certificate served", func(t *testing.T) {
		status, body := call(t, &known)
		if status != http.StatusOK {
			t.Fatalf("status = %d, want 200; body: %s", status, body)
		}
		if rawID.Match([]byte(body)) {
			t.Errorf("body holds an unmasked identity number")
		}
	})
	t.Run("unregistered certificate is 401", func(t *testing.T) {
		if status, body := call(t, &unknown); status != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401; body: %s", status, body)
		}
	})
	t.Run("no certificate and no key is 401", func(t *testing.T) {
		if status, body := call(t, nil); status != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401; body: %s", status, body)
		}
	})
	t.Run("audited as the consumer", func(t *testing.T) {
		recs := s.waitRecords(3, 10*time.Second)
		if len(recs) != 3 {
			t.Fatalf("stream holds %d records, want 3", len(recs))
		}
		if recs[0]["consumer"] != "siming-civil-affairs" {
			t.Errorf("first record consumer = %v, want siming-civil-affairs", recs[0]["consumer"])
		}
	})
}
