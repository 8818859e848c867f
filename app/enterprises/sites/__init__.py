"""Sites (排查点位): the QR points of an enterprise — add, edit, retire, reactivate."""
