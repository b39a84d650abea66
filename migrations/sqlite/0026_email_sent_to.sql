-- The recipients who have taken an email, a JSON array: each recipient is sent to on its
-- own, so one who refuses holds back none of the others, and one who has it is not sent it
-- again when another's refusal is retried. Emails sent already went to everyone.
ALTER TABLE email_deliveries ADD COLUMN sent_to text;
UPDATE email_deliveries
SET sent_to = CASE WHEN cc_address IS NULL THEN json_array(to_address)
                   ELSE json_array(to_address, cc_address) END
WHERE sent_at IS NOT NULL;
