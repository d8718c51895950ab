package main

import "testing"

func TestValidIdentityNumber(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"standard example with X", "11010519491231002X", true},
		{"xiamen siming", "350203196804140613", true},
		{"wrong check digit", "350203196804140614", false},
		{"lowercase x", "11010519491231002x", false},
		{"X as wrong check", "11010519491231001X", false},
		{"seventeen characters", "35020319680414061", false},
		{"nineteen characters", "3502031968041406130", false},
		{"letter in body", "3502031968O4140613", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validIdentityNumber(tt.input); got != tt.want {
				t.Errorf("validIdentityNumber(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}

func TestValidCreditCode(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"standard example", "91350100M000100Y43", true},
		{"check character letter", "91110000600037341L", true},
		{"wrong check character", "91350100M000100Y44", false},
		{"excluded letter I", "91350100M000100YI3", false},
		{"lowercase", "91110000600037341l", false},
		{"seventeen characters", "91350100M000100Y4", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validCreditCode(tt.input); got != tt.want {
				t.Errorf("validCreditCode(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}

func TestWellFormedCreditCode(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"standard example", "91350100M000100Y43", true},
		{"civil affairs other organisation", "59350206MJ8A24179W", true},
		{"unknown registration authority", "B1350100M000100Y4" + string(creditCodeCheckChar("B1350100M000100Y4")), false},
		{"letter in region code", "9135A100M000100Y4" + string(creditCodeCheckChar("9135A100M000100Y4")), false},
		{"bad organisation code check", "91350100M000100Y5" + string(creditCodeCheckChar("91350100M000100Y5")), false},
		{"bad check character", "91350100M000100Y44", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := wellFormedCreditCode(tt.input); got != tt.want {
				t.Errorf("wellFormedCreditCode(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}

func TestValidOrganizationCode(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"standard example with X", "D2143569X", true},
		{"digits", "600037341", true},
		{"letters in body", "MA3M0RBR7", true},
		{"remainder zero gives 0", "705123510", true},
		{"wrong check", "D21435690", false},
		{"eight characters", "D2143569", false},
		{"lowercase letter", "d2143569X", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validOrganizationCode(tt.input); got != tt.want {
				t.Errorf("validOrganizationCode(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}

func TestValidLuhn(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  bool
	}{
		{"classic example", "79927398713", true},
		{"unionpay card", "6222027584535916312", true},
		{"wrong check digit", "79927398714", false},
		{"letter", "7992739871A", false},
		{"one digit", "0", false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validLuhn(tt.input); got != tt.want {
				t.Errorf("validLuhn(%q) = %v, want %v", tt.input, got, tt.want)
			}
		})
	}
}
