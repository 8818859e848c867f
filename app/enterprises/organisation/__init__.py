"""组织与岗位: an enterprise's departments, teams and posts with their risk cards, in the
console (edited by whoever may MANAGE_STRUCTURE, read by every viewer) and on the phone
(「我的岗位风险」, and the card on the site scan page)."""
