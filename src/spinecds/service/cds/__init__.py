"""CDS Hooks 2.0: discovery, patient-view and imaging-order services, feedback."""
