"""The DataLab reports service: scheduled papermill runs, their archive, a gallery."""
