"""Segmentation service: customer features, classification schemes, rule segments, recommendations."""
