package rxws

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
)

// ErrCertificate matches a *CertificateError: the server's TLS certificate
// was not trusted.
var ErrCertificate = errors.New("rxws: TLS certificate not trusted")

// CertificateError is returned by Connect when the server's certificate
// failed verification: signed by an unknown authority (add it to
// tls.Config.RootCAs through WithTLSConfig), issued for another host name,
// or expired. errors.Is(err, ErrCertificate) holds, and errors.As reaches
// the crypto error beneath (*tls.CertificateVerificationError,
// x509.UnknownAuthorityError, x509.HostnameError, ...).
type CertificateError struct {
	URL  string // the server, without query or credentials
	Host string // the host name the certificate was checked against
	Err  error  // the crypto/tls or crypto/x509 error
}

// Error names the server, the host and the crypto error.
func (e *CertificateError) Error() string {
	return fmt.Sprintf("rxws: dial %s: TLS certificate of %s not trusted: %v", e.URL, e.Host, e.Err)
}

// Is makes errors.Is(err, ErrCertificate) true.
func (e *CertificateError) Is(target error) bool { return target == ErrCertificate }

// Unwrap returns the crypto error.
func (e *CertificateError) Unwrap() error { return e.Err }

func isCertificateError(err error) bool {
	var (
		cve *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
	)
	return errors.As(err, &cve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ci)
}

// warnInsecure logs, once per Connection, that certificate verification is
// off: it must be a visible decision, not a silent default.
func (c *Connection) warnInsecure(shown string, cfg *tls.Config) {
	if cfg == nil || !cfg.InsecureSkipVerify || !c.insecureWarned.CompareAndSwap(false, true) {
		return
	}
	c.logger().Warn("rxws: TLS certificate verification is off (InsecureSkipVerify); the server is not authenticated",
		"url", shown)
}
