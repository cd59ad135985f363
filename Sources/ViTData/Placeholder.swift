/// Datasets: see DataError.swift
