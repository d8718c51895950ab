package identity

import "testing"

// FuzzCheckCreditCode checks that CheckCreditCode, ValidCreditCode and
// CreditCheckChar agree on every input.
func FuzzCheckCreditCode(f *testing.F) {
	f.Add("91350200MA3MEBQL6X")
	f.Add("91350200ma3mebql6x")
	f.Add("11350203003627183M")
	f.Add("350203196804140613")
	f.Add("")
	f.Add("91350200MA3MEBQL6I")
	f.Fuzz(func(t *testing.T, s string) {
		err := CheckCreditCode(s)
		valid := ValidCreditCode([]byte(s))
		if (err == nil) != valid {
			t.Fatalf("CheckCreditCode error %v but ValidCreditCode = %v", err, valid)
		}
		if err != nil {
			return
		}
		c, cerr := CreditCheckChar(s[:17])
		if cerr != nil || c != s[17] {
			t.Fatalf("CreditCheckChar disagrees with CheckCreditCode")
		}
	})
}
