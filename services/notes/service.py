"""Notes' nameko service: maps HTTP, RPC and events onto NotesApplication."""

from shared.consumer import subscribers
from shared.paging import PageQuery
from shared.runtime import CommonEndpoints, Praxis, TokenVerifier, rpc
from shared.web import caller_of, http, load_body, load_query, principal_of

from . import schemas
from .application import NotesApplication


# Other services' events: a handler per producer, from its subscription table.
class Service(CommonEndpoints, subscribers(NotesApplication.subscriptions)):
    name = "notes"
    praxis = Praxis(NotesApplication)
    verify = TokenVerifier()

    # -- the treatment plan -----------------------------------------------------------
    @http("POST", "/clients/<uuid:client_id>/goals", resource="goal")
    def set_goal(self, request, client_id):
        command = load_body(request, schemas.SetGoalSchema())
        return 201, self.praxis.set_goal(caller_of(request), str(client_id), command)

    @http("PATCH", "/clients/<uuid:client_id>/goals/<uuid:goal_id>", resource="goal")
    def revise_goal(self, request, client_id, goal_id):
        command = load_body(request, schemas.ReviseGoalSchema())
        return self.praxis.revise_goal(caller_of(request), str(client_id), str(goal_id), command)

    @http("POST", "/clients/<uuid:client_id>/goals/<uuid:goal_id>/status", resource="goal")
    def change_goal_status(self, request, client_id, goal_id):
        command = load_body(request, schemas.GoalStatusSchema())
        return self.praxis.change_goal_status(caller_of(request), str(client_id),
                                              str(goal_id), command)

    @http("POST", "/clients/<uuid:client_id>/goals/<uuid:goal_id>/ratings", resource="goal")
    def rate_goal(self, request, client_id, goal_id):
        command = load_body(request, schemas.RateGoalSchema())
        return 201, self.praxis.rate_goal(caller_of(request), str(client_id), str(goal_id),
                                          command)

    @http("PUT", "/clients/<uuid:client_id>/diagnoses", resource="diagnosis")
    def set_diagnoses(self, request, client_id):
        command = load_body(request, schemas.DiagnosesSchema())
        return self.praxis.set_diagnoses(caller_of(request), str(client_id), command)

    @http("PUT", "/clients/<uuid:client_id>/stage", resource="treatment_plan")
    def set_stage(self, request, client_id):
        command = load_body(request, schemas.StageSchema())
        return self.praxis.set_stage(caller_of(request), str(client_id), command)

    @http("PUT", "/clients/<uuid:client_id>/approach", resource="treatment_plan")
    def set_approach(self, request, client_id):
        command = load_body(request, schemas.ApproachSchema())
        return self.praxis.set_approach(caller_of(request), str(client_id), command)

    @http("GET", "/clients/<uuid:client_id>/plan", resource="treatment_plan")
    def get_plan(self, request, client_id):
        return self.praxis.plan(principal_of(request), str(client_id))

    @http("GET", "/fhir/Patient/<uuid:client_id>/$everything", resource="fhir_record")
    def fhir_everything(self, request, client_id):
        return self.praxis.fhir_everything(principal_of(request), str(client_id))

    @http("GET", "/clients/<uuid:client_id>/chart", resource="chart")
    def get_chart(self, request, client_id):
        return self.praxis.chart(principal_of(request), str(client_id))

    # -- progress notes ---------------------------------------------------------------
    @http("GET", "/clients/<uuid:client_id>/notes", resource="progress_note")
    def client_notes(self, request, client_id):
        return self.praxis.client_notes(principal_of(request), str(client_id),
                                        load_query(request, PageQuery()))

    @http("GET", "/notes/<uuid:note_id>", resource="progress_note")
    def get_note(self, request, note_id):
        return self.praxis.note(principal_of(request), str(note_id))

    @http("PUT", "/notes/<uuid:note_id>/draft", resource="progress_note")
    def save_draft(self, request, note_id):
        command = load_body(request, schemas.DraftSchema())
        return self.praxis.save_draft(caller_of(request), str(note_id), command)

    @http("POST", "/notes/<uuid:note_id>/sign", resource="progress_note", action="sign")
    def sign_note(self, request, note_id):
        command = load_body(request, schemas.SignSchema()) if request.get_data() else {}
        return self.praxis.sign_note(caller_of(request), str(note_id), command)

    @http("POST", "/notes/<uuid:note_id>/cosign", resource="progress_note", action="cosign")
    def cosign_note(self, request, note_id):
        return self.praxis.cosign_note(caller_of(request), str(note_id))

    @http("POST", "/notes/<uuid:note_id>/addenda", resource="progress_note", action="add_addendum")
    def add_addendum(self, request, note_id):
        command = load_body(request, schemas.AddendumSchema())
        return 201, self.praxis.add_addendum(caller_of(request), str(note_id), command)

    @http("PUT", "/notes/<uuid:note_id>/interventions", resource="progress_note")
    def record_interventions(self, request, note_id):
        command = load_body(request, schemas.InterventionsSchema())
        return self.praxis.record_interventions(caller_of(request), str(note_id), command)

    @http("GET", "/notes/<uuid:note_id>/interventions", resource="progress_note")
    def get_interventions(self, request, note_id):
        return self.praxis.session_interventions(principal_of(request), str(note_id))

    @http("GET", "/therapy-vocabulary", resource="therapy_vocabulary")
    def get_therapy_vocabulary(self, request):
        return self.praxis.therapy_vocabulary(principal_of(request))

    @http("PUT", "/therapy-vocabulary", resource="therapy_vocabulary")
    def set_therapy_vocabulary(self, request):
        command = load_body(request, schemas.TherapyVocabularySchema())
        return self.praxis.set_therapy_vocabulary(caller_of(request), command)

    @http("GET", "/clinicians/<clinician_id>/notes-due", resource="progress_note")
    def get_notes_due(self, request, clinician_id):
        return self.praxis.notes_due(principal_of(request), clinician_id)

    @http("PUT", "/clinicians/<clinician_id>/supervision", resource="supervision")
    def set_supervision(self, request, clinician_id):
        command = load_body(request, schemas.SupervisionSchema())
        return self.praxis.set_supervision(caller_of(request), clinician_id, command)

    @http("GET", "/clinicians/<clinician_id>/supervision", resource="supervision")
    def get_supervision(self, request, clinician_id):
        return self.praxis.supervision(principal_of(request), clinician_id)

    @http("PUT", "/clinics/<clinic_id>/note-deadline", resource="clinic_settings")
    def set_note_deadline(self, request, clinic_id):
        command = load_body(request, schemas.NoteDeadlineSchema())
        return self.praxis.set_note_deadline(caller_of(request), clinic_id, command)

    @http("GET", "/clinics/<clinic_id>/note-deadline", resource="clinic_settings")
    def get_note_deadline(self, request, clinic_id):
        return self.praxis.note_deadline(principal_of(request), clinic_id)

    # -- psychotherapy notes: the author's only ---------------------------------------------
    @http("POST", "/psychotherapy-notes", resource="psychotherapy_note")
    def write_psychotherapy_note(self, request):
        command = load_body(request, schemas.PsychotherapyNoteSchema())
        return 201, self.praxis.write_psychotherapy_note(caller_of(request), command)

    @http("GET", "/psychotherapy-notes", resource="psychotherapy_note")
    def list_psychotherapy_notes(self, request):
        query = load_query(request, schemas.PsychotherapyNotesQuery())
        return self.praxis.psychotherapy_notes(principal_of(request), query)

    @http("GET", "/psychotherapy-notes/<uuid:note_id>", resource="psychotherapy_note")
    def get_psychotherapy_note(self, request, note_id):
        return self.praxis.psychotherapy_note(principal_of(request), str(note_id))

    @http("PUT", "/psychotherapy-notes/<uuid:note_id>", resource="psychotherapy_note")
    def revise_psychotherapy_note(self, request, note_id):
        command = load_body(request, schemas.PsychotherapyNoteRevisionSchema())
        return self.praxis.revise_psychotherapy_note(caller_of(request), str(note_id),
                                                     command)

    # -- between sessions ---------------------------------------------------------------
    @http("POST", "/clients/<uuid:client_id>/homework", resource="homework")
    def assign_homework(self, request, client_id):
        command = load_body(request, schemas.HomeworkSchema())
        return 201, self.praxis.assign_homework(caller_of(request), str(client_id), command)

    @http("GET", "/clients/<uuid:client_id>/homework", resource="homework")
    def client_homework(self, request, client_id):
        return self.praxis.client_homework(principal_of(request), str(client_id),
                                           load_query(request, PageQuery()))

    @http("POST", "/clients/<uuid:client_id>/homework/<uuid:homework_id>/done", resource="homework", action="complete")
    def complete_homework(self, request, client_id, homework_id):
        command = load_body(request, schemas.HomeworkDoneSchema())
        return self.praxis.complete_homework(caller_of(request), str(client_id),
                                             str(homework_id), command)

    @http("POST", "/clients/<uuid:client_id>/journal", resource="journal")
    def write_journal_entry(self, request, client_id):
        command = load_body(request, schemas.JournalEntrySchema())
        return 201, self.praxis.write_journal_entry(caller_of(request), str(client_id),
                                                    command)

    @http("GET", "/clients/<uuid:client_id>/journal", resource="journal")
    def journal(self, request, client_id):
        return self.praxis.journal(principal_of(request), str(client_id),
                                   load_query(request, PageQuery()))

    @http("PUT", "/clients/<uuid:client_id>/journal/<uuid:entry_id>/sharing", resource="journal")
    def share_journal_entry(self, request, client_id, entry_id):
        command = load_body(request, schemas.SharingSchema())
        return self.praxis.share_journal_entry(caller_of(request), str(client_id),
                                               str(entry_id), command)

    # -- secure messaging: the client's thread with their care team -----------------------
    @http("POST", "/clients/<uuid:client_id>/messages", resource="message", action="send")
    def send_message(self, request, client_id):
        command = load_body(request, schemas.MessageSchema())
        return 201, self.praxis.send_message(caller_of(request), str(client_id), command)

    @http("GET", "/clients/<uuid:client_id>/messages", resource="message")
    def thread(self, request, client_id):
        return self.praxis.thread(principal_of(request), str(client_id),
                                  load_query(request, PageQuery()))

    @http("POST", "/clients/<uuid:client_id>/messages/<uuid:message_id>/read",
          resource="message", action="mark_read")
    def mark_message_read(self, request, client_id, message_id):
        return self.praxis.mark_message_read(caller_of(request), str(client_id),
                                             str(message_id))

    @http("POST", "/clients/<uuid:client_id>/messages/<uuid:message_id>/flag",
          resource="message", action="flag")
    def flag_message(self, request, client_id, message_id):
        return self.praxis.flag_message(caller_of(request), str(client_id), str(message_id))

    @http("GET", "/clinicians/<clinician_id>/messages/unread", resource="message")
    def unread_messages(self, request, clinician_id):
        return self.praxis.unread_messages(principal_of(request), clinician_id)

    @http("PUT", "/clinics/<clinic_id>/messaging-settings", resource="clinic_settings")
    def set_messaging_settings(self, request, clinic_id):
        command = load_body(request, schemas.MessagingSettingsSchema())
        return self.praxis.set_messaging_settings(caller_of(request), clinic_id, command)

    @http("GET", "/clinics/<clinic_id>/messaging-settings", resource="clinic_settings")
    def get_messaging_settings(self, request, clinic_id):
        return self.praxis.messaging_settings(principal_of(request), clinic_id)

    # -- RPC twins of the reads ----------------------------------------------------------
    @rpc(resource="chart")
    def chart(self, token, client_id):
        """RPC twin of GET /clients/<id>/chart, for other systems inside the cluster."""
        return self.praxis.chart(self.verify(token), str(client_id))

    @rpc(resource="treatment_plan")
    def plan(self, token, client_id):
        """RPC twin of GET /clients/<id>/plan."""
        return self.praxis.plan(self.verify(token), str(client_id))

    @rpc(resource="progress_note")
    def notes_due(self, token, clinician_id):
        """RPC twin of GET /clinicians/<id>/notes-due."""
        return self.praxis.notes_due(self.verify(token), clinician_id)
