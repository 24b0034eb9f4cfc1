"""Tests of vae."""
